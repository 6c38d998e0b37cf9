//! Prometheus text for `/metrics`: ingest and commit latency, callbacks stored and duplicated,
//! rejections by reason, and, read from the database at each scrape, each device's lag and the
//! age of the oldest event some device has not acknowledged.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets: the `le` label in seconds, and the bound in microseconds.
const BUCKETS: [(&str, u64); 9] = [
    ("0.001", 1_000),
    ("0.0025", 2_500),
    ("0.005", 5_000),
    ("0.01", 10_000),
    ("0.02", 20_000),
    ("0.05", 50_000),
    ("0.1", 100_000),
    ("0.25", 250_000),
    ("1", 1_000_000),
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        for (i, (_, bound)) in BUCKETS.iter().enumerate() {
            if micros <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum_micros = self.sum_micros.saturating_add(micros);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, (label, _)) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{label}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(
            out,
            "{name}_sum {}.{:06}",
            self.sum_micros / 1_000_000,
            self.sum_micros % 1_000_000
        );
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    ingest: Histogram,
    commit: Histogram,
    /// Callbacks the committed batches carried (with `commit.count`, the mean batch size).
    committed_events: u64,
    callbacks: BTreeMap<(&'static str, &'static str), u64>,
    rejections: BTreeMap<malipo_relay_api::ProblemCode, u64>,
}

/// Counters shared by the handlers, the writer and the public listener.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Connections the public listener holds open now (each has its slot under the cap).
    connections_open: AtomicU64,
    /// Connections closed on arrival because the cap was reached.
    connections_refused: AtomicU64,
    /// Events retention deleted (their per-day counts are kept).
    purged_events: AtomicU64,
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A callback answered: `outcome` is `stored` or `duplicate`.
    pub fn callback(&self, provider: &'static str, outcome: &'static str, took: Duration) {
        self.with(|m| {
            *m.callbacks.entry((provider, outcome)).or_default() += 1;
            m.ingest.observe(took);
        });
    }

    pub fn rejected(&self, reason: malipo_relay_api::ProblemCode) {
        self.with(|m| *m.rejections.entry(reason).or_default() += 1);
    }

    /// A connection took a slot under the cap; [`Self::connection_closed`] gives it back.
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection closed on arrival: every slot was taken.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Retention deleted `n` events.
    pub fn purged(&self, n: i64) {
        self.purged_events
            .fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
    }

    /// A batch of `events` callbacks committed in `took`.
    pub fn committed(&self, took: Duration, events: usize) {
        self.with(|m| {
            m.commit.observe(took);
            m.committed_events += u64::try_from(events).unwrap_or(0);
        });
    }

    /// Batches committed, the callbacks they carried and the time their commits took, since the
    /// relay started.
    pub fn batches(&self) -> (u64, u64, Duration) {
        self.with(|m| {
            (
                m.commit.count,
                m.committed_events,
                Duration::from_micros(m.commit.sum_micros),
            )
        })
    }

    /// The counters in Prometheus text, followed by `gauges` read at `now_ms`.
    pub fn render(&self, gauges: &Gauges, now_ms: i64) -> String {
        let mut out = String::new();
        self.with(|m| {
            m.ingest.render(&mut out, "malipo_relay_ingest_seconds", "Time from a callback's arrival to its answer, stored callbacks and duplicates.");
            m.commit.render(&mut out, "malipo_relay_commit_seconds", "Time to commit one batch of callbacks (group commit).");
            let _ = writeln!(out, "# HELP malipo_relay_committed_callbacks_total Callbacks the committed batches carried (divided by malipo_relay_commit_seconds_count, the mean batch).\n# TYPE malipo_relay_committed_callbacks_total counter\nmalipo_relay_committed_callbacks_total {}", m.committed_events);
            let _ = writeln!(out, "# HELP malipo_relay_callbacks_total Callbacks answered 200, by provider and outcome.\n# TYPE malipo_relay_callbacks_total counter");
            for ((provider, outcome), n) in &m.callbacks {
                let _ = writeln!(out, "malipo_relay_callbacks_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP malipo_relay_rejections_total Requests refused, by reason.\n# TYPE malipo_relay_rejections_total counter");
            for (reason, n) in &m.rejections {
                let _ = writeln!(out, "malipo_relay_rejections_total{{reason=\"{reason}\"}} {n}");
            }
        });
        let _ = writeln!(
            out,
            "# HELP malipo_relay_connections_open Connections the public listener holds open.\n# TYPE malipo_relay_connections_open gauge\nmalipo_relay_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP malipo_relay_connections_refused_total Connections closed on arrival because every slot was taken.\n# TYPE malipo_relay_connections_refused_total counter\nmalipo_relay_connections_refused_total {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP malipo_relay_purged_events_total Provider events retention deleted (their per-day counts are kept).\n# TYPE malipo_relay_purged_events_total counter\nmalipo_relay_purged_events_total {}",
            self.purged_events.load(Ordering::Relaxed)
        );
        gauges.render(&mut out, now_ms);
        out
    }
}

/// What is read from the database at each scrape.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// (device, tenant, events it has not acknowledged)
    pub lags: Vec<(String, String, i64)>,
    /// (tenant, when its oldest event some device has not acknowledged was received, in ms;
    /// 0 when none)
    pub oldest_unacknowledged: Vec<(String, i64)>,
    /// (tenant, when its latest event was received, in ms; 0 when it has none)
    pub last_received: Vec<(String, i64)>,
    /// Whether the database answers and the writer keeps up (`/readyz`).
    pub ready: bool,
    /// The database's size in bytes.
    pub database_bytes: i64,
}

impl Gauges {
    fn render(&self, out: &mut String, now_ms: i64) {
        out.push_str(
            "# HELP malipo_relay_device_lag_events Events a device has not acknowledged.\n# TYPE malipo_relay_device_lag_events gauge\n",
        );
        for (id, tenant, lag) in &self.lags {
            let _ = writeln!(
                out,
                "malipo_relay_device_lag_events{{tenant=\"{tenant}\",device=\"{id}\"}} {lag}"
            );
        }
        out.push_str("# HELP malipo_relay_oldest_unacknowledged_seconds Age of the oldest event a device of the tenant has not acknowledged (0 when none).\n# TYPE malipo_relay_oldest_unacknowledged_seconds gauge\n");
        for (id, at) in &self.oldest_unacknowledged {
            let age = if *at == 0 {
                0
            } else {
                (now_ms - at).max(0) / 1000
            };
            let _ = writeln!(
                out,
                "malipo_relay_oldest_unacknowledged_seconds{{tenant=\"{id}\"}} {age}"
            );
        }
        out.push_str("# HELP malipo_relay_last_received_timestamp_seconds When the tenant's latest provider event was received (Unix seconds; 0 when none).\n# TYPE malipo_relay_last_received_timestamp_seconds gauge\n");
        for (id, at) in &self.last_received {
            let _ = writeln!(
                out,
                "malipo_relay_last_received_timestamp_seconds{{tenant=\"{id}\"}} {}",
                at / 1000
            );
        }
        let _ = writeln!(
            out,
            "# HELP malipo_relay_ready 1 when the database answers and the writer keeps up (/readyz), else 0.\n# TYPE malipo_relay_ready gauge\nmalipo_relay_ready {}",
            u8::from(self.ready)
        );
        let _ = writeln!(
            out,
            "# HELP malipo_relay_database_bytes The size of the relay's database.\n# TYPE malipo_relay_database_bytes gauge\nmalipo_relay_database_bytes {}",
            self.database_bytes
        );
    }
}
