const express = require('express');
const crypto = require('crypto');
const app = express();
app.post('/webhook/qris', express.raw({ type: 'application/json' }), (req, res) => {
const signature = req.headers['x-webhook-signature'] || '';
const body = req.body.toString('utf8');
const expected = crypto
.createHmac('sha256', process.env.WEBHOOK_SECRET)
.update(body)
.digest('hex');
if (signature !== expected) {
return res.status(401).json({ success: false, message: 'Invalid signature' });
}
const payload = JSON.parse(body);
if (payload.event !== 'payment.paid') {
return res.status(400).json({ success: false, message: 'Invalid event' });
}
const payment = payload.data || {};
const invoiceId = payment.invoice_id;
const merchantOrderId = payment.merchant_order_id;
const status = payment.status;
// TODO: cocokan invoice ke database Anda, tandai paid, lalu proses order.
return res.status(200).json({
success: true,
invoice_id: invoiceId,
merchant_order_id: merchantOrderId,
status,
});
});
app.listen(process.env.PORT, '127.0.0.1');
