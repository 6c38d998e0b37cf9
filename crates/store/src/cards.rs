//! Cards a customer let Paystack keep, by e-mail. Only Paystack's description of the card and
//! its authorization code are kept: never the card number.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};

use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct NewCard {
    pub email: String,
    pub authorization_code: String,
    pub signature: Option<String>,
    pub brand: String,
    pub last4: String,
    pub exp_month: String,
    pub exp_year: String,
    pub bank: Option<String>,
    pub reusable: bool,
    /// The currency of the payment that saved it: Paystack charges it in that one only.
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCard {
    pub id: i64,
    pub email: String,
    /// Charges the card: keep it out of every output.
    pub authorization_code: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: String,
    pub exp_year: String,
    pub bank: Option<String>,
    pub reusable: bool,
    /// What it was charged in (none for a card saved before Malipo noted it).
    pub currency: Option<String>,
    pub last_used_at: OffsetDateTime,
}

fn card_from_row(r: &SqliteRow) -> SavedCard {
    SavedCard {
        id: r.get("id"),
        email: r.get("email"),
        authorization_code: r.get("authorization_code"),
        brand: r.get("brand"),
        last4: r.get("last4"),
        exp_month: r.get("exp_month"),
        exp_year: r.get("exp_year"),
        bank: r.get("bank"),
        reusable: r.get::<i64, _>("reusable") == 1,
        currency: r.get("currency"),
        last_used_at: from_ms(r.get("last_used_at")),
    }
}

impl Store {
    /// Keeps a card Paystack described; the same card again (same signature or code) replaces
    /// the older entry, so a customer's list does not fill with copies.
    pub async fn save_card(&self, card: &NewCard, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if let Some(sig) = &card.signature {
            sqlx::query("DELETE FROM saved_cards WHERE email = ? AND signature = ? AND authorization_code <> ?")
                .bind(&card.email)
                .bind(sig)
                .bind(&card.authorization_code)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO saved_cards (email, authorization_code, signature, brand, last4, exp_month, exp_year,
                                      bank, reusable, created_at, last_used_at, currency)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (authorization_code) DO UPDATE SET last_used_at = excluded.last_used_at,
                 reusable = excluded.reusable, currency = excluded.currency",
        )
        .bind(&card.email)
        .bind(&card.authorization_code)
        .bind(&card.signature)
        .bind(&card.brand)
        .bind(&card.last4)
        .bind(&card.exp_month)
        .bind(&card.exp_year)
        .bind(&card.bank)
        .bind(i64::from(card.reusable))
        .bind(to_ms(now))
        .bind(to_ms(now))
        .bind(&card.currency)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the card with `authorization_code` as one Paystack will not charge again (expired,
    /// revoked, not reusable): it leaves the customer's list.
    pub async fn card_gone(&self, authorization_code: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE saved_cards SET reusable = 0 WHERE authorization_code = ?")
            .bind(authorization_code)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The customer's reusable cards, most recently used first.
    pub async fn saved_cards(&self, email: &str) -> Result<Vec<SavedCard>> {
        let rows = sqlx::query(
            "SELECT * FROM saved_cards WHERE email = ? AND reusable = 1 ORDER BY last_used_at DESC, id DESC",
        )
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(card_from_row).collect())
    }
}
