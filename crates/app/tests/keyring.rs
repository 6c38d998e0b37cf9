//! Secrets in the OS credential store: saved from the settings service, read back by a store
//! opened afresh (as after a restart) into the provider settings, never written to the office
//! database or the audit log, and refused for anyone but an administrator.

use malipo_app::{Actor, App, ErrorCode, NoSecretStore, OsKeyring, SecretStore};

async fn office() -> (tempfile::TempDir, App, Actor, Actor) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path()).await.unwrap();
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
    app.add_user(&admin, "juma", "clerk", "clerk-pass-1")
        .await
        .unwrap();
    let clerk = Actor::User(app.sign_in("juma", "clerk-pass-1").await.unwrap());
    (dir, app, admin, clerk)
}

#[tokio::test]
async fn a_secret_saved_in_the_keyring_configures_card_payments_and_is_kept_nowhere_else() {
    let (dir, app, admin, clerk) = office().await;
    // Entries of their own, so the test never touches an office's real secrets.
    let service = format!("malipo-test-{}", std::process::id());
    let keyring = OsKeyring::open_as(&service).expect("this machine has a credential store");
    let secret = "sk_test_9f2c41d7e0b84a6c";

    let refused = app
        .set_secret(&clerk, &keyring, "paystack.secret_key", secret)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Forbidden, "{refused}");
    assert!(keyring.get("paystack.secret_key").unwrap().is_none());

    let unknown = app
        .set_secret(&admin, &keyring, "paystack.secrte_key", secret)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::InvalidInput);

    app.set_secret(&admin, &keyring, "paystack.secret_key", secret)
        .await
        .unwrap();

    // Opened again, as the next start of the app does.
    let reopened = OsKeyring::open_as(&service).unwrap();
    let settings = app.provider_settings(&reopened).await.unwrap();
    let paystack = settings
        .paystack
        .as_ref()
        .expect("the keyring's key configures Paystack");
    assert_eq!(paystack.secret_key.expose(), secret);
    assert!(settings.mpesa.is_none(), "M-Pesa still lacks its settings");

    let screen = app.settings_screen(&admin, &reopened, true).await.unwrap();
    let source = |name: &str| {
        screen
            .secrets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.source.clone())
            .unwrap()
    };
    assert_eq!(source("paystack.secret_key"), "keyring");
    assert_eq!(source("mpesa.passkey"), "missing");
    assert!(screen.keyring_available);
    assert_eq!(screen.keyring, keyring.kind());
    assert!(
        !serde_json::to_string(&screen).unwrap().contains(secret),
        "the screen never carries a secret's value"
    );
    let screen_err = app
        .settings_screen(&clerk, &reopened, false)
        .await
        .unwrap_err();
    assert_eq!(screen_err.code(), ErrorCode::Forbidden);

    let audit = app.audit_log(&admin, Some(("secret", "paystack.secret_key")), 10);
    let audit = audit.await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "secret.store");
    assert_eq!(audit[0].actor, "amina");
    app.store().clone().close().await;
    let database = std::fs::read(dir.path().join(malipo_app::DATABASE_FILE)).unwrap();
    assert!(
        !database
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the secret is not in the office database"
    );

    // An empty value removes it.
    let app = App::open(dir.path()).await.unwrap();
    app.set_secret(&admin, &reopened, "paystack.secret_key", "")
        .await
        .unwrap();
    assert!(reopened.get("paystack.secret_key").unwrap().is_none());
    let settings = app.provider_settings(&reopened).await.unwrap();
    assert!(settings.paystack.is_none());
    assert_eq!(settings.paystack_missing, ["MALIPO_PAYSTACK_SECRET_KEY"]);
}

#[tokio::test]
async fn without_a_credential_store_saving_a_secret_says_to_use_the_environment() {
    let (_dir, app, admin, _clerk) = office().await;
    let none = NoSecretStore {
        why: Some("no credential store is reachable".into()),
    };
    let e = app
        .set_secret(&admin, &none, "relay.token", "mrt_0123456789")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("MALIPO_RELAY_TOKEN"), "{e}");
    assert!(!e.to_string().contains("mrt_0123456789"), "{e}");
    let screen = app.settings_screen(&admin, &none, false).await.unwrap();
    assert!(!screen.keyring_available);
    assert!(
        screen.keyring.contains("no credential store"),
        "{}",
        screen.keyring
    );
    assert!(
        app.audit_log(&admin, Some(("secret", "relay.token")), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was recorded as stored"
    );
}
