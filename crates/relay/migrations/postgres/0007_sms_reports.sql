-- SMS delivery reports (Africa's Talking) are events too.
ALTER TABLE events DROP CONSTRAINT events_provider_check;
ALTER TABLE events ADD CONSTRAINT events_provider_check
    CHECK (provider IN ('daraja', 'paystack', 'africastalking'));
