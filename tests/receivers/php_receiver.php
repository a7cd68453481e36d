<?php
$signature = $_SERVER['HTTP_X_WEBHOOK_SIGNATURE'] ?? '';
$body = file_get_contents('php://input');
$expected = hash_hmac('sha256', $body, getenv('WEBHOOK_SECRET'));
if (!hash_equals($expected, $signature)) {
http_response_code(401);
echo json_encode(['success' => false, 'message' => 'Invalid signature']);
exit;
}
$payload = json_decode($body, true);
if (!is_array($payload) || ($payload['event'] ?? '') !== 'payment.paid') {
http_response_code(400);
echo json_encode(['success' => false, 'message' => 'Invalid event']);
exit;
}
$payment = $payload['data'] ?? [];
$invoiceId = $payment['invoice_id'] ?? null;
$merchantOrderId = $payment['merchant_order_id'] ?? null;
$status = $payment['status'] ?? null;
// TODO: cocokan invoice ke database Anda, tandai paid, lalu proses order.
http_response_code(200);
header('Content-Type: application/json');
echo json_encode([
'success' => true,
'invoice_id' => $invoiceId,
'merchant_order_id' => $merchantOrderId,
'status' => $status,
]);
