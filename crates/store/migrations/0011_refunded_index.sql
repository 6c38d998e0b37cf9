-- The summary's refunded figure reads only payments money went back on.
CREATE INDEX tx_refunded_day ON transactions (currency, day) WHERE refunded_minor > 0;
