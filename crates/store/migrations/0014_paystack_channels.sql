-- How a Paystack payment was made: its channel (`card`, `bank`, `ussd`, `qr`, `mobile_money`,
-- `bank_transfer`, ...) and, when not a card, what paid as Paystack names it ("MTN Mobile
-- Money", a bank). A card's brand and last four digits stay in card_brand and card_last4.
ALTER TABLE transactions ADD COLUMN channel TEXT;
ALTER TABLE transactions ADD COLUMN instrument TEXT;
