-- The counter's other ways to pay: cash now, cheques and bank slips next.
ALTER TABLE transactions DROP CONSTRAINT transactions_method_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_method_check
    CHECK (method IN ('mpesa', 'card', 'paybill', 'cash', 'cheque', 'bank'));
