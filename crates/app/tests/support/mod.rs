//! What the services' tests share: a clock moved by hand, captured log lines, and the provider
//! simulator on a loopback port.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Time that moves only when a test says so.
#[derive(Debug)]
pub struct HandClock(Mutex<OffsetDateTime>);

impl HandClock {
    pub fn now_utc() -> Arc<HandClock> {
        Arc::new(HandClock(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl malipo_app::Clock for HandClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Log lines, captured for the test.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The simulator on a free loopback port, its checkout links naming that port.
pub async fn simulator() -> (malipo_sandbox::Running, malipo_sandbox::Config) {
    let config = malipo_sandbox::Config {
        public_url: String::new(),
        ..malipo_sandbox::Config::default()
    };
    let running = malipo_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config.clone())
        .await
        .unwrap();
    (running, config)
}
