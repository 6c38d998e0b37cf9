-- The payment a callback is about (CheckoutRequestID, reversal conversation id or Paystack
-- reference), so a device can tell another office's payment from an orphan.
ALTER TABLE events ADD COLUMN subject TEXT;
