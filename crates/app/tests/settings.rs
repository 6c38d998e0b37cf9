//! One table of settings: every entry of `settings::table::ALL` reaches every consumer. The
//! Settings screen lists it with its label and help, the validator takes a value of its kind
//! (and refuses a secret, which only the keyring takes), and the value read back is the one
//! kept. A setting added to the table is therefore checked here without touching this test.

use std::collections::HashMap;
use std::sync::Mutex;

use malipo_app::settings::table::{self, Kind};
use malipo_app::{Actor, App, ErrorCode, SecretStore};
use malipo_domain::Secret;

/// A credential store in memory.
#[derive(Default)]
struct Memory(Mutex<HashMap<String, String>>);

impl SecretStore for Memory {
    fn get(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.0.lock().unwrap().get(name).cloned().map(Secret::new))
    }

    fn set(&self, name: &str, value: Option<&Secret>) -> Result<(), String> {
        let mut kept = self.0.lock().unwrap();
        match value {
            Some(v) => kept.insert(name.to_owned(), v.expose().to_owned()),
            None => kept.remove(name),
        };
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

/// A value each kind accepts, and one it refuses (none for free text).
fn values(setting: &table::Setting) -> (String, Option<&'static str>) {
    match setting.kind {
        Kind::Text => ("Counter 2".into(), None),
        Kind::Choice(words) => (words[words.len() - 1].into(), Some("maybe")),
        Kind::Whole { min, .. } => ((min + 1).to_string(), Some("-1")),
        Kind::Rule => match setting.key {
            "office.code" => ("NBI".into(), Some("not a code!")),
            "office.currency" => ("NGN".into(), Some("XYZ")),
            "limits.max_amount" => ("100000.00".into(), Some("lots")),
            "messages.reminder_days" => ("-5,0,5".into(), Some("soon")),
            "messages.quiet_hours" => ("22-6".into(), Some("night")),
            "policy.grace_reminder_days" => ("0,7,10".into(), Some("weekly")),
            "collect.hour" => ("13:30".into(), Some("25:00")),
            "collect.retry_days" => ("1,2,5".into(), Some("daily")),
            "cheque.bounce_fee" => ("500.00".into(), Some("-5")),
            "bank.statement_columns" => (
                "reference=Reference,amount=Credit".into(),
                Some("Reference,Credit"),
            ),
            "relay.ca_file" => (
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/relay-ca.pem").into(),
                Some("/no/such/ca.pem"),
            ),
            "updates.url" => (
                "https://relay.example.co.ke/updates/latest.json".into(),
                Some("ftp://x"),
            ),
            other => panic!("{other} has a rule this test does not know: add its values here"),
        },
    }
}

#[tokio::test]
async fn every_setting_in_the_table_reaches_the_screen_the_validator_and_the_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path()).await.unwrap();
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
    let keyring = Memory::default();

    for setting in table::ALL {
        let key = setting.key;
        if setting.secret {
            let refused = app.set_setting(&admin, key, "s3cret").await.unwrap_err();
            assert_eq!(refused.code(), ErrorCode::InvalidInput, "{key}: {refused}");
            assert!(refused.to_string().contains("keyring"), "{refused}");
            app.set_secret(&admin, &keyring, key, "s3cret")
                .await
                .unwrap();
            assert_eq!(keyring.get(key).unwrap().unwrap().expose(), "s3cret");
            continue;
        }
        let (good, bad) = values(setting);
        if let Some(bad) = bad {
            let refused = app.set_setting(&admin, key, bad).await.unwrap_err();
            assert_eq!(
                refused.code(),
                ErrorCode::InvalidInput,
                "{key}={bad}: {refused}"
            );
        }
        app.set_setting(&admin, key, &good)
            .await
            .unwrap_or_else(|e| panic!("{key}={good}: {e}"));
    }

    let kept: HashMap<String, String> = app
        .settings(&Actor::Console)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let screen = app.settings_screen(&admin, &keyring, false).await.unwrap();
    for setting in table::ALL {
        let key = setting.key;
        if setting.secret {
            let s = screen.secrets.iter().find(|s| s.name == key).unwrap();
            assert_eq!(
                (
                    s.label.as_str(),
                    s.help.as_str(),
                    s.env.as_str(),
                    s.source.as_str()
                ),
                (setting.label, setting.help, setting.env, "keyring"),
                "{key}"
            );
            assert!(
                !kept.contains_key(key),
                "a secret in the office database: {key}"
            );
            continue;
        }
        let list = if setting.office {
            &screen.office
        } else {
            &screen.providers
        };
        let s = list
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("{key} is not on the screen"));
        assert_eq!(
            (
                s.label.as_str(),
                s.help.as_str(),
                s.env.as_str(),
                s.default.as_str()
            ),
            (setting.label, setting.help, setting.env, setting.default),
            "{key}"
        );
        let (good, _) = values(setting);
        let want = match key {
            // Kept in its canonical form.
            "limits.max_amount" => "100000.00".to_owned(),
            _ => good,
        };
        assert_eq!(s.value, want, "{key}");
        assert_eq!(kept.get(key), Some(&want), "{key}");
    }
    // Nothing on the screen is outside the table, but the message templates.
    for s in screen.office.iter().chain(&screen.providers) {
        assert!(
            table::find(&s.key).is_some() || (s.multiline && s.key.starts_with("template.")),
            "{} is on the screen but not in the table",
            s.key
        );
        assert!(!s.label.is_empty() && !s.help.is_empty(), "{s:?}");
    }
    let unknown = app
        .set_setting(&admin, "smtp.hots", "mail.example")
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("unknown setting"), "{unknown}");
}
