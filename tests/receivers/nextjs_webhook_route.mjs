// The seed's Next.js webhook receiver (app/api/webhook/qris/route.ts), verbatim but for the
// type annotation of `request`, so that plain Node runs it (served by nextjs_routes.mjs).
import crypto from 'node:crypto';
// app/api/webhook/qris/route.ts
export async function POST(request) {
const signature = request.headers.get('x-webhook-signature') ?? '';
const body = await request.text();
const expected = crypto
.createHmac('sha256', process.env.WEBHOOK_SECRET || '')
.update(body)
.digest('hex');
if (signature !== expected) {
return Response.json({ success: false, message: 'Invalid signature' }, { status: 401 });
}
const payload = JSON.parse(body);
if (payload.event !== 'payment.paid') {
return Response.json({ success: false, message: 'Invalid event' }, { status: 400 });
}
const payment = payload.data || {};
// TODO: update order di database Anda.
return Response.json({
success: true,
invoice_id: payment.invoice_id,
merchant_order_id: payment.merchant_order_id,
status: payment.status,
});
}
