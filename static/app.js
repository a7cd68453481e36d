/* WebQRIS dashboard: a single page with hash routing over /admin/api and the /ws socket.
   Vanilla JS, no build step, strict CSP (no inline code or style attributes). */
(function () {
  "use strict";

  var WQ = window.WQ;
  var t = WQ.t;

  /* ====================================================================================== */
  /* Strings                                                                                */
  /* ====================================================================================== */
  WQ.add({
    id: {
      switch_lang: "English", switch_lang_short: "EN", switch_lang_label: "Ganti bahasa ke English",
      login_title: "Masuk ke dasbor", login_sub: "Pantau pembayaran QRIS toko Anda secara langsung.",
      password: "Kata sandi admin", login: "Masuk", logging_in: "Memeriksa…", logout: "Keluar",
      wrong_password: "Kata sandi salah. Coba lagi.", password_required: "Isi kata sandi dulu.",
      live_on: "Langsung", live_off: "Terputus", live_connecting: "Menyambung…",
      nav_overview: "Ringkasan", nav_payments: "Pembayaran", nav_notifications: "Notifikasi", nav_audit: "Log audit",
      nav_merchants: "Merchant", nav_webhooks: "Webhook",
      nav_short_payments: "Transaksi", nav_short_notifications: "Notifikasi",
      // statuses
      st_pending: "Menunggu", st_paid: "Dibayar", st_expired: "Kedaluwarsa", st_cancelled: "Dibatalkan",
      oc_matched: "Cocok", oc_duplicate: "Duplikat", oc_unparsed: "Tak terbaca", oc_unmatched: "Tak cocok", oc_test: "Tes",
      oc_needs_attention: "Perlu perhatian",
      ds_pending: "Antre", ds_sending: "Mengirim", ds_delivered: "Terkirim", ds_failed: "Gagal",
      all: "Semua", all_merchants: "Semua merchant", all_statuses: "Semua status",
      // common
      loading: "Memuat…", load_more: "Muat lagi", retry: "Coba lagi", close: "Tutup", cancel: "Batal",
      save: "Simpan", saving: "Menyimpan…", copy: "Salin", copied: "Tersalin", copy_failed: "Tidak bisa menyalin",
      back: "Kembali", error_generic: "Terjadi kesalahan: {message}", network_error: "Server tidak dapat dihubungi.",
      none: "–", yes: "Ya", open: "Buka", reset: "Atur ulang",
      // overview
      ov_today: "Hari ini", ov_today_sum: "Uang masuk hari ini", ov_today_count: "Pembayaran lunas hari ini",
      ov_attention: "Notifikasi perlu perhatian", ov_attention_none: "Semua beres",
      ov_attention_some: "Uang masuk tanpa tagihan yang cocok: periksa dan lampirkan.",
      ov_chart: "14 hari terakhir", ov_chart_label: "Uang masuk per hari selama 14 hari terakhir",
      ov_day_detail: "{date}: {sum} · {count} pembayaran",
      ov_feed: "Aktivitas langsung", ov_feed_empty: "Belum ada aktivitas. Tagihan baru dan pembayaran muncul di sini saat terjadi.",
      ov_all_payments: "Lihat semua pembayaran",
      feed_new: "Tagihan baru {total}", feed_paid: "Dibayar {total}", feed_expired: "{count} tagihan kedaluwarsa",
      feed_webhook: "Webhook terkirim", feed_cancelled: "Dibatalkan {total}", feed_pending: "Menunggu {total}",
      feed_expired_one: "Kedaluwarsa {total}", from_sender: "dari {name}",
      toast_paid: "Pembayaran masuk: {total} · {merchant}",
      feed_attention: "Uang masuk {total} tanpa tagihan", feed_attention_unparsed: "Notifikasi tanpa nominal",
      toast_attention: "Uang masuk {total} tidak cocok dengan tagihan mana pun · {merchant}. Lihat Notifikasi.",
      toast_app_not_accepted: "{total} dari {app}, aplikasi yang tidak dipercaya {merchant}: tidak melunasi apa pun. Lihat Notifikasi.",
      // coded problems from the server (its English is the fallback)
      err_cut_off: "QRIS ini rusak: terpotong di karakter ke-{position}. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_bad_field_number: "QRIS ini rusak atau bukan QRIS: {value} di karakter ke-{position} bukan nomor field. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_bad_field_length: "QRIS ini rusak atau bukan QRIS: panjang field {field} ({value}) bukan angka. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_field_cut_off: "QRIS ini rusak: field {field} terpotong sebelum selesai. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_cannot_build: "QRIS tidak dapat dibuat dari data ini.",
      err_not_text: "QRIS harus berupa teks. Tempel teks yang terbaca dari stiker QRIS Anda.",
      err_empty: "QRIS masih kosong. Tempel teks yang terbaca dari stiker QRIS Anda.",
      err_not_qris: "Ini bukan QRIS: teks QRIS selalu diawali 000201. Pindai stiker QRIS Anda dengan pembaca QR, lalu tempel teks yang muncul.",
      err_no_checksum: "QRIS ini tidak lengkap: checksum di akhirnya (6304 dan 4 karakter) tidak ada. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_field_twice: "QRIS ini rusak: field {field} muncul dua kali. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_bad_characters: "QRIS ini berisi karakter yang tidak mungkin ada di QRIS. Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_checksum_mismatch: "QRIS ini rusak: checksum-nya tidak cocok (tertulis {written}, seharusnya {computed}). Pindai ulang stikernya dan salin seluruh teks QRIS.",
      err_already_dynamic: "QRIS ini sudah dinamis (dibuat untuk satu pembayaran dengan nominal tetap). Daftarkan QRIS statis yang tercetak di stiker toko Anda.",
      err_unknown_type: "Jenis QRIS ini tidak dikenal (field 01 berisi {value}, QRIS statis berisi 11). Daftarkan QRIS statis yang tercetak di stiker toko Anda.",
      err_not_rupiah: "QRIS ini bukan untuk rupiah (mata uang {value}, seharusnya 360). Gunakan stiker QRIS toko Anda di Indonesia.",
      err_not_indonesia: "QRIS ini bukan dari Indonesia (negara {value}, seharusnya ID). Gunakan stiker QRIS toko Anda di Indonesia.",
      err_no_merchant_name: "QRIS ini tidak memuat nama merchant, jadi pelanggan tidak tahu siapa yang dibayar. Minta QRIS statis yang lengkap ke bank atau penyedia QRIS Anda.",
      err_amount_not_whole: "Nominal harus bilangan bulat rupiah, tanpa titik atau desimal, misalnya 25042.",
      err_amount_not_positive: "Nominal harus lebih dari 0 rupiah.",
      err_amount_too_large: "Nominal terlalu besar untuk QRIS (paling banyak 13 digit).",
      err_payment_not_payable: "Pembayaran ini sudah {status}: hanya pembayaran yang menunggu atau kedaluwarsa yang dapat dilunasi.",
      err_payment_not_cancellable: "Pembayaran ini tidak dapat dibatalkan: statusnya {status}.",
      err_notification_not_attachable: "Hanya notifikasi yang belum cocok dan belum dilampirkan yang dapat dilampirkan.",
      err_delivery_already_queued: "Webhook ini sudah dalam antrean kirim.",
      // audit log
      au_title: "Log audit", au_intro: "Setiap tindakan tangan di dasbor dan di baris perintah: siapa masuk, pembayaran yang dikonfirmasi atau dibatalkan, notifikasi yang dilampirkan, perubahan merchant, kunci yang diganti, webhook yang dikirim ulang.",
      no_audit: "Belum ada tindakan yang tercatat.", from_address: "dari {address}",
      "a_admin.login": "Masuk ke dasbor", "a_admin.logout": "Keluar dari dasbor", "a_admin.set_password": "Kata sandi admin diganti",
      "a_payment.confirm": "Pembayaran dikonfirmasi manual", "a_payment.cancel": "Pembayaran dibatalkan",
      "a_notification.attach": "Notifikasi dilampirkan ke tagihan", "a_merchant.create": "Merchant dibuat",
      "a_merchant.update": "Merchant diubah", "a_merchant.rotate_secret": "Kunci merchant diganti",
      "a_webhook.redeliver": "Webhook dikirim ulang", au_delivery: "Webhook #{id}",
      // payments
      pay_title: "Pembayaran", search: "Cari", search_ph: "No. tagihan, order id, atau nominal",
      status: "Status", merchant: "Merchant", filters: "Filter", date_from: "Dari tanggal", date_to: "Sampai tanggal",
      col_invoice: "Tagihan", col_total: "Total", col_created: "Dibuat", col_paid: "Pembayaran",
      no_payments: "Tidak ada pembayaran yang cocok dengan filter ini.",
      no_payments_yet: "Belum ada pembayaran. Tagihan dibuat oleh server toko lewat API.",
      order: "Order", code_short: "kode {code}",
      // detail
      detail_title: "Detail pembayaran", amount: "Harga", unique_code: "Kode unik", total: "Total",
      order_id: "Order id merchant", customer: "Pelanggan", method: "Metode", sender: "Pengirim",
      created: "Dibuat", expires: "Kedaluwarsa pada", paid_at: "Dibayar pada", checkout_link: "Halaman bayar",
      confirm_manual: "Konfirmasi manual", cancel_payment: "Batalkan tagihan",
      confirm_manual_title: "Tandai sebagai dibayar?",
      confirm_manual_body: "Tagihan {invoice} sebesar {total} akan ditandai lunas dan webhook dikirim ke toko. Lakukan ini hanya jika uangnya benar-benar sudah masuk.",
      confirm_manual_ok: "Ya, sudah dibayar",
      cancel_title: "Batalkan tagihan?",
      cancel_body: "Tagihan {invoice} ({total}) dibatalkan dan pelanggan tidak bisa membayarnya lagi.",
      cancel_ok: "Ya, batalkan", keep: "Jangan",
      confirmed_toast: "Tagihan {invoice} ditandai dibayar.", cancelled_toast: "Tagihan {invoice} dibatalkan.",
      notifications_of: "Notifikasi untuk tagihan ini", no_notifications: "Belum ada notifikasi yang terhubung.",
      deliveries_of: "Webhook untuk tagihan ini", no_deliveries: "Belum ada webhook untuk tagihan ini.",
      no_deliveries_url: "Belum ada webhook (merchant ini belum punya URL webhook, atau tagihan belum dibayar).",
      attempts: "Percobaan", attempt_time: "Waktu", attempt_status: "Status HTTP", attempt_duration: "Durasi",
      attempt_error: "Galat / respons", no_attempts: "Belum ada percobaan.",
      redeliver: "Kirim ulang", redeliver_title: "Kirim ulang webhook?",
      redeliver_body: "Body yang sama persis dikirim lagi ke {url}.", redelivered: "Webhook dijadwalkan untuk dikirim ulang.",
      qr_for: "QR untuk {total}", not_found: "Pembayaran tidak ditemukan.", next_attempt: "Percobaan berikut",
      delivered_at: "Terkirim", payload: "Body",
      // notifications
      notif_title: "Kotak masuk notifikasi", outcome: "Hasil",
      notif_intro: "Setiap notifikasi dari HP toko dan callback. Yang tak cocok adalah uang yang masuk tanpa tagihan: lampirkan ke tagihan yang benar.",
      no_notifs: "Tidak ada notifikasi dengan filter ini.", received: "Diterima", parsed: "Nominal terbaca",
      not_parsed: "Nominal tidak terbaca", attach: "Lampirkan ke tagihan", attached_to: "Dilampirkan ke {invoice}",
      matched_to: "Cocok dengan {invoice}", duplicate_of: "Duplikat dari #{id}",
      attach_title: "Lampirkan ke tagihan",
      attach_body: "Notifikasi {amount} dari {sender} akan melunasi tagihan yang Anda pilih dan webhook dikirim ke toko.",
      attach_body_unparsed: "Nominal notifikasi ini tidak terbaca. Periksa isinya sebelum melunasi tagihan.",
      attach_input: "No. tagihan", attach_ok: "Lampirkan & lunasi", attach_candidates: "Tagihan yang menunggu atau kedaluwarsa:",
      attach_exact: "nominal sama", attach_none: "Tidak ada tagihan menunggu atau kedaluwarsa untuk merchant ini.",
      attached_toast: "Tagihan {invoice} dilunasi dengan notifikasi ini.", invoice_required: "Isi nomor tagihan.",
      source_callback: "Callback", source_forwarder: "HP", device: "Perangkat", unknown_sender: "tanpa nama",
      // merchants
      m_title: "Merchant", m_new: "Tambah merchant", m_edit: "Ubah merchant", m_name: "Nama merchant",
      m_qris: "QRIS statis", m_qris_help: "Tempel isi teks QRIS statis toko (hasil pindai stiker QRIS, diawali 000201…).",
      m_qris_missing: "QRIS statis belum diatur: tagihan belum bisa dibuat.",
      m_qris_valid: "QRIS valid", m_qris_checking: "Memeriksa QRIS…", m_qris_decoded: "Terbaca: {name}, {city}",
      m_webhook: "URL webhook", m_webhook_help: "Server toko yang menerima payment.paid (http:// atau https://).",
      m_apps: "Aplikasi yang boleh melunasi tagihan", m_apps_extra: "Aplikasi lain yang dipercaya",
      m_apps_help: "Aplikasi dompet digital dan bank yang dikenal WebQRIS selalu boleh melunasi. Tambahkan nama paket aplikasi lain yang Anda percayai (mis. aplikasi kasir), pisahkan dengan koma. Notifikasi dari aplikasi lain (email, SMS, chat, toko online) tidak melunasi apa pun dan menunggu di Notifikasi.",
      m_apps_seen: "Terlihat dari HP toko: {apps}", m_apps_payment: "Aplikasi pembayaran",
      m_apps_any: "Aplikasi apa saja (berisiko)", m_apps_unnamed: "notifikasi tanpa nama aplikasi",
      m_any_app: "Izinkan aplikasi apa saja melunasi tagihan (berisiko)",
      m_any_app_help: "Notifikasi dari email, SMS atau chat yang bunyinya seperti uang masuk akan melunasi tagihan: siapa pun yang bisa mengirim pesan ke HP toko bisa menandai pesanan lunas.",
      m_unnamed_app: "Izinkan notifikasi tanpa nama aplikasi melunasi tagihan",
      m_unnamed_app_help: "Untuk template MacroDroid/Tasker yang tidak mengirim nama paket. Aktifkan hanya bila HP meneruskan notifikasi aplikasi pembayaran saja.",
      app_not_accepted: "Aplikasi ini belum dipercaya toko",
      m_webhook_none: "Belum ada URL webhook", m_nmid: "NMID", m_city: "Kota",
      m_test_webhook: "Kirim webhook tes", m_test_sent: "Webhook tes dijadwalkan. Lihat hasilnya di Webhook.",
      m_test_needs_url: "Isi URL webhook dulu.",
      m_rotate: "Ganti rahasia", rot_api_token: "API token", rot_callback_secret: "Callback secret", rot_webhook_secret: "Webhook secret",
      rotate_title: "Ganti {secret}?",
      rotate_body: "Nilai lama langsung berhenti bekerja. Anda harus memasang nilai baru di {where}.",
      rotate_body_webhook_secret: "Webhook langsung ditandatangani dengan nilai baru di X-Webhook-Signature. Untuk sementara header webhook-signature (Standard Webhooks) juga membawa tanda tangan dengan nilai lama, jadi server toko yang memeriksa header itu tetap menerima webhook sampai nilai baru dipasang.",
      m_previous_secret: "Webhook secret lama masih ikut menandatangani webhook-signature sampai {time}.",
      where_api_token: "server toko (Authorization: Bearer)", where_callback_secret: "aplikasi forwarder di HP dan integrasi callback",
      where_webhook_secret: "server toko (verifikasi tanda tangan webhook)", rotate_ok: "Ganti sekarang",
      secret_once_title: "Simpan sekarang: hanya ditampilkan sekali",
      secret_once_body: "Salin dan simpan di tempat aman. WebQRIS hanya menyimpan hash-nya dan tidak bisa menampilkannya lagi.",
      secret_saved: "Sudah saya simpan",
      m_phones: "HP (perangkat forwarder)", m_no_phones: "Belum ada HP yang mengirim notifikasi. Pasang aplikasi forwarder dengan pengaturan di bawah, lalu kirim tes.",
      last_heard: "Terakhir terdengar {when}", never_heard: "belum pernah", silent_warning: "Sudah lama diam: periksa HP, baterai, internet, dan aplikasi forwarder.",
      last_app: "aplikasi terakhir {app}", last_test: "tes terakhir {when}",
      m_forwarder: "Pengaturan forwarder", fw_url: "URL notifikasi (forwarder)", fw_header: "Header",
      fw_callback: "URL callback sederhana", fw_test: "Body tes koneksi", fw_note: "Ganti <CALLBACK_SECRET> dengan callback secret merchant ini.",
      m_created: "Merchant {name} dibuat.", m_saved: "Perubahan disimpan.", m_none: "Belum ada merchant. Tambahkan toko pertama Anda.",
      edit: "Ubah", m_secrets_created: "Merchant dibuat. Ini rahasianya:", done: "Selesai",
      m_preview: "Pratinjau QRIS", m_preview_empty: "Tempel QRIS statis untuk melihat pratinjau.",
      name_required: "Nama merchant wajib diisi.",
      // webhooks
      wh_title: "Pengiriman webhook", wh_intro: "Setiap webhook ke server toko, dengan setiap percobaan. Gagal? Perbaiki server toko lalu kirim ulang.",
      state: "Status", no_webhooks: "Belum ada webhook dengan filter ini.", wh_event: "Event", wh_url: "Tujuan",
      show_attempts: "Lihat percobaan ({n})", hide_attempts: "Sembunyikan percobaan", last_error: "Galat terakhir",
      test_event: "tes",
      test_sig_ok_badge: "Tanda tangan diterima",
      test_sig_ok: "Penerima menjawab HTTP 400 \"Invalid event\": penerima versi dokumentasi asli memeriksa tanda tangan dulu dan baru menolak event yang tidak dikenalnya (event tes). Jadi tanda tangan diterima (tanda tangan salah dijawab 401 \"Invalid signature\")."
    },
    en: {
      switch_lang: "Bahasa Indonesia", switch_lang_short: "ID", switch_lang_label: "Switch language to Bahasa Indonesia",
      login_title: "Sign in to the dashboard", login_sub: "Watch your shop's QRIS payments arrive live.",
      password: "Admin password", login: "Sign in", logging_in: "Checking…", logout: "Sign out",
      wrong_password: "Wrong password. Try again.", password_required: "Enter the password first.",
      live_on: "Live", live_off: "Offline", live_connecting: "Connecting…",
      nav_overview: "Overview", nav_payments: "Payments", nav_notifications: "Notifications", nav_audit: "Audit log",
      nav_merchants: "Merchants", nav_webhooks: "Webhooks",
      nav_short_payments: "Payments", nav_short_notifications: "Inbox",
      st_pending: "Pending", st_paid: "Paid", st_expired: "Expired", st_cancelled: "Cancelled",
      oc_matched: "Matched", oc_duplicate: "Duplicate", oc_unparsed: "Unreadable", oc_unmatched: "Unmatched", oc_test: "Test",
      oc_needs_attention: "Needs attention",
      ds_pending: "Queued", ds_sending: "Sending", ds_delivered: "Delivered", ds_failed: "Failed",
      all: "All", all_merchants: "All merchants", all_statuses: "All statuses",
      loading: "Loading…", load_more: "Load more", retry: "Retry", close: "Close", cancel: "Cancel",
      save: "Save", saving: "Saving…", copy: "Copy", copied: "Copied", copy_failed: "Could not copy",
      back: "Back", error_generic: "Something went wrong: {message}", network_error: "Cannot reach the server.",
      none: "–", yes: "Yes", open: "Open", reset: "Reset",
      ov_today: "Today", ov_today_sum: "Money in today", ov_today_count: "Paid payments today",
      ov_attention: "Notifications needing attention", ov_attention_none: "All clear",
      ov_attention_some: "Money arrived with no matching bill: check and attach it.",
      ov_chart: "Last 14 days", ov_chart_label: "Money received per day over the last 14 days",
      ov_day_detail: "{date}: {sum} · {count} payments",
      ov_feed: "Live activity", ov_feed_empty: "No activity yet. New bills and payments show up here as they happen.",
      ov_all_payments: "See all payments",
      feed_new: "New bill {total}", feed_paid: "Paid {total}", feed_expired: "{count} bills expired",
      feed_webhook: "Webhook delivered", feed_cancelled: "Cancelled {total}", feed_pending: "Pending {total}",
      feed_expired_one: "Expired {total}", from_sender: "from {name}",
      toast_paid: "Payment received: {total} · {merchant}",
      feed_attention: "Money in {total}, no bill", feed_attention_unparsed: "Notification without an amount",
      toast_attention: "{total} came in but matches no bill · {merchant}. See Notifications.",
      toast_app_not_accepted: "{total} from {app}, an app {merchant} does not trust: it paid nothing. See Notifications.",
      au_title: "Audit log", au_intro: "Every action taken by hand in the dashboard or on the command line: sign-ins, payments confirmed or cancelled, notifications attached, merchants changed, secrets rotated, webhooks resent.",
      no_audit: "Nothing recorded yet.", from_address: "from {address}",
      "a_admin.login": "Signed in to the dashboard", "a_admin.logout": "Signed out of the dashboard", "a_admin.set_password": "Admin password changed",
      "a_payment.confirm": "Payment confirmed by hand", "a_payment.cancel": "Payment cancelled",
      "a_notification.attach": "Notification attached to a bill", "a_merchant.create": "Merchant created",
      "a_merchant.update": "Merchant changed", "a_merchant.rotate_secret": "Merchant secret rotated",
      "a_webhook.redeliver": "Webhook resent", au_delivery: "Webhook #{id}",
      pay_title: "Payments", search: "Search", search_ph: "Bill id, order id or amount",
      status: "Status", merchant: "Merchant", filters: "Filters", date_from: "From date", date_to: "To date",
      col_invoice: "Bill", col_total: "Total", col_created: "Created", col_paid: "Payment",
      no_payments: "No payments match these filters.",
      no_payments_yet: "No payments yet. The shop's server creates bills through the API.",
      order: "Order", code_short: "code {code}",
      detail_title: "Payment details", amount: "Price", unique_code: "Unique code", total: "Total",
      order_id: "Merchant order id", customer: "Customer", method: "Method", sender: "Sender",
      created: "Created", expires: "Expires at", paid_at: "Paid at", checkout_link: "Checkout page",
      confirm_manual: "Confirm manually", cancel_payment: "Cancel bill",
      confirm_manual_title: "Mark as paid?",
      confirm_manual_body: "Bill {invoice} for {total} will be marked paid and the webhook sent to the shop. Only do this when the money has really arrived.",
      confirm_manual_ok: "Yes, it is paid",
      cancel_title: "Cancel this bill?",
      cancel_body: "Bill {invoice} ({total}) will be cancelled and the customer can no longer pay it.",
      cancel_ok: "Yes, cancel it", keep: "Keep it",
      confirmed_toast: "Bill {invoice} marked paid.", cancelled_toast: "Bill {invoice} cancelled.",
      notifications_of: "Notifications for this bill", no_notifications: "No notification is linked yet.",
      deliveries_of: "Webhooks for this bill", no_deliveries: "No webhook for this bill yet.",
      no_deliveries_url: "No webhook yet (this merchant has no webhook URL, or the bill is not paid).",
      attempts: "Attempts", attempt_time: "Time", attempt_status: "HTTP status", attempt_duration: "Duration",
      attempt_error: "Error / response", no_attempts: "No attempts yet.",
      redeliver: "Redeliver", redeliver_title: "Redeliver this webhook?",
      redeliver_body: "The exact same body is sent to {url} again.", redelivered: "Webhook queued for redelivery.",
      qr_for: "QR for {total}", not_found: "Payment not found.", next_attempt: "Next attempt",
      delivered_at: "Delivered", payload: "Body",
      notif_title: "Notification inbox", outcome: "Outcome",
      notif_intro: "Every notification from the shop's phones and callbacks. Unmatched ones are money that arrived without a bill: attach them to the right bill.",
      no_notifs: "No notifications with this filter.", received: "Received", parsed: "Amount read",
      not_parsed: "Amount not readable", attach: "Attach to invoice", attached_to: "Attached to {invoice}",
      matched_to: "Matched {invoice}", duplicate_of: "Duplicate of #{id}",
      attach_title: "Attach to invoice",
      attach_body: "The notification of {amount} from {sender} will pay the bill you choose, and the webhook is sent to the shop.",
      attach_body_unparsed: "This notification's amount could not be read. Check its text before paying a bill with it.",
      attach_input: "Bill id", attach_ok: "Attach & pay", attach_candidates: "Pending or expired bills:",
      attach_exact: "same amount", attach_none: "No pending or expired bill for this merchant.",
      attached_toast: "Bill {invoice} paid with this notification.", invoice_required: "Enter the bill id.",
      source_callback: "Callback", source_forwarder: "Phone", device: "Device", unknown_sender: "no name",
      m_title: "Merchants", m_new: "Add merchant", m_edit: "Edit merchant", m_name: "Merchant name",
      m_qris: "Static QRIS", m_qris_help: "Paste the text of the shop's static QRIS (scan the QRIS sticker; it starts with 000201…).",
      m_qris_missing: "No static QRIS set: bills cannot be created yet.",
      m_qris_valid: "Valid QRIS", m_qris_checking: "Checking the QRIS…", m_qris_decoded: "Reads as: {name}, {city}",
      m_webhook: "Webhook URL", m_webhook_help: "The shop's server that receives payment.paid (http:// or https://).",
      m_apps: "Apps that may pay invoices",
      m_apps_extra: "Other trusted apps",
      m_apps_help: "The wallet and bank apps WebQRIS knows may always pay. Add the package names of other apps you trust (e.g. a cashier app), comma-separated. A notification from any other app (mail, SMS, chat, online shops) pays nothing and waits under Notifications.",
      m_apps_seen: "Seen from the shop's phones: {apps}", m_apps_payment: "Payment apps",
      m_apps_any: "Any app (risky)", m_apps_unnamed: "notifications without an app name",
      m_any_app: "Let any app pay invoices (risky)",
      m_any_app_help: "A mail, SMS or chat notification that reads like money received would pay an invoice: anybody who can message the shop's phone could mark an order paid.",
      m_unnamed_app: "Let notifications without an app name pay invoices",
      m_unnamed_app_help: "For MacroDroid/Tasker templates that send no package name. Turn on only if the phone forwards payment apps alone.",
      app_not_accepted: "The shop does not trust this app yet",
      m_webhook_none: "No webhook URL yet", m_nmid: "NMID", m_city: "City",
      m_test_webhook: "Send test webhook", m_test_sent: "Test webhook queued. See the result under Webhooks.",
      m_test_needs_url: "Set a webhook URL first.",
      m_rotate: "Rotate secrets", rot_api_token: "API token", rot_callback_secret: "Callback secret", rot_webhook_secret: "Webhook secret",
      rotate_title: "Rotate the {secret}?",
      rotate_body: "The old value stops working at once. You must install the new one in {where}.",
      rotate_body_webhook_secret: "Webhooks are signed with the new value in X-Webhook-Signature at once. For a while the webhook-signature header (Standard Webhooks) also carries a signature made with the old value, so a shop server that checks that header keeps accepting webhooks until the new value is installed.",
      m_previous_secret: "The previous webhook secret also signs webhook-signature until {time}.",
      where_api_token: "the shop's server (Authorization: Bearer)", where_callback_secret: "the forwarder app on the phone and any callback integration",
      where_webhook_secret: "the shop's server (webhook signature check)", rotate_ok: "Rotate now",
      secret_once_title: "Save it now: shown only once",
      secret_once_body: "Copy it and keep it somewhere safe. WebQRIS keeps only a hash and cannot show it again.",
      secret_saved: "I have saved it",
      m_phones: "Phones (forwarder devices)", m_no_phones: "No phone has sent a notification yet. Set up the forwarder app with the settings below, then send a test.",
      last_heard: "Last heard {when}", never_heard: "never", silent_warning: "Silent for too long: check the phone, its battery, internet and the forwarder app.",
      last_app: "last app {app}", last_test: "last test {when}",
      m_forwarder: "Forwarder settings", fw_url: "Notification URL (forwarder)", fw_header: "Header",
      fw_callback: "Simple callback URL", fw_test: "Connection test body", fw_note: "Replace <CALLBACK_SECRET> with this merchant's callback secret.",
      m_created: "Merchant {name} created.", m_saved: "Changes saved.", m_none: "No merchants yet. Add your first shop.",
      edit: "Edit", m_secrets_created: "Merchant created. These are its secrets:", done: "Done",
      m_preview: "QRIS preview", m_preview_empty: "Paste a static QRIS to see a preview.",
      name_required: "The merchant name is required.",
      wh_title: "Webhook deliveries", wh_intro: "Every webhook to the shops' servers, with every attempt. Failed? Fix the shop's server, then redeliver.",
      state: "State", no_webhooks: "No webhooks with this filter.", wh_event: "Event", wh_url: "Target",
      show_attempts: "Show attempts ({n})", hide_attempts: "Hide attempts", last_error: "Last error",
      test_event: "test",
      test_sig_ok_badge: "Signature accepted",
      test_sig_ok: "The receiver answered HTTP 400 \"Invalid event\": receivers written from the original docs check the signature first and only then refuse an event they do not handle (this test). So the signature was accepted (a wrong one gets 401 \"Invalid signature\")."
    }
  });

  /* ====================================================================================== */
  /* Helpers                                                                                */
  /* ====================================================================================== */
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else if (key === "html") node.innerHTML = value; // only for trusted SVG markup
        else if (key.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(key.slice(2), value);
        else if (key === "value") node.value = value;
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  var ICONS = {
    overview: '<path d="M4 13h6V4H4zm0 7h6v-5H4zm10 0h6v-9h-6zm0-16v5h6V4z"/>',
    payments: '<path d="M3 6.5A2.5 2.5 0 0 1 5.5 4h13A2.5 2.5 0 0 1 21 6.5v11a2.5 2.5 0 0 1-2.5 2.5h-13A2.5 2.5 0 0 1 3 17.5zM5 9h14V6.5a.5.5 0 0 0-.5-.5h-13a.5.5 0 0 0-.5.5zm0 3v5.5c0 .28.22.5.5.5h13a.5.5 0 0 0 .5-.5V12zm2 3h5v2H7z"/>',
    notifications: '<path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22m7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/>',
    merchants: '<path d="M4 4h16l1.5 5a3 3 0 0 1-2.5 3.9V20H5v-7.1A3 3 0 0 1 2.5 9zm3 9v5h4v-4h2v4h4v-5a3 3 0 0 1-2.5-1.34A3 3 0 0 1 12 13a3 3 0 0 1-2.5-1.34A3 3 0 0 1 7 13"/>',
    webhooks: '<path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"/>',
    audit: '<path d="M9 2h6a1 1 0 0 1 1 1v1h2.5A1.5 1.5 0 0 1 20 5.5v15a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 4 20.5v-15A1.5 1.5 0 0 1 5.5 4H8V3a1 1 0 0 1 1-1m1 2v2h4V4zM7 10v2h10v-2zm0 4v2h10v-2zm0 4v2h6v-2z"/>',
    copy: '<path d="M8 8V4.5A1.5 1.5 0 0 1 9.5 3h10A1.5 1.5 0 0 1 21 4.5v10a1.5 1.5 0 0 1-1.5 1.5H16v3.5a1.5 1.5 0 0 1-1.5 1.5h-10A1.5 1.5 0 0 1 3 19.5v-10A1.5 1.5 0 0 1 4.5 8zm2 0h4.5A1.5 1.5 0 0 1 16 9.5V14h3V5h-9zm-5 2v9h9v-9z"/>',
    warn: '<path d="M12 2 1 21h22zm-1 7h2v6h-2zm0 8h2v2h-2z"/>',
    phone: '<path d="M7 2h10a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2m0 3v13h10V5zm4 14.5v1h2v-1z"/>',
    back: '<path d="M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z"/>',
    plus: '<path d="M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z"/>',
    check: '<path d="M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"/>',
    link: '<path d="M14 3h7v7h-2V6.4l-8.3 8.3-1.4-1.4L17.6 5H14zM5 5h6v2H5v12h12v-6h2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2"/>'
  };
  function icon(name, cls) {
    return el("span", { class: "icon" + (cls ? " " + cls : ""), "aria-hidden": "true",
      html: '<svg viewBox="0 0 24 24" width="20" height="20" fill="currentColor">' + ICONS[name] + "</svg>" });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = el("textarea", { readonly: true, class: "offscreen" });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy"));
    });
  }

  function copyButton(getText, label) {
    var button = el("button", { type: "button", class: "btn btn-quiet btn-sm copy-btn", title: t("copy") },
      icon("copy"), el("span", { text: label || t("copy") }));
    button.addEventListener("click", function () {
      var text = typeof getText === "function" ? getText() : getText;
      copyText(text).then(function () {
        button.lastChild.textContent = t("copied");
        button.classList.add("is-copied");
        setTimeout(function () { button.lastChild.textContent = label || t("copy"); button.classList.remove("is-copied"); }, 1600);
      }, function () { toast(t("copy_failed"), "error"); });
    });
    return button;
  }

  /* A value with a copy button. */
  function copyField(label, value, opts) {
    opts = opts || {};
    return el("div", { class: "copy-field" + (opts.secret ? " is-secret" : "") },
      el("div", { class: "copy-label", text: label }),
      el("div", { class: "copy-row" },
        el("code", { class: "copy-value", "data-testid": opts.testid || null, text: value }),
        copyButton(value)));
  }

  function debounce(fn, ms) {
    var timer = null;
    var wrapped = function () {
      var args = arguments;
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { timer = null; fn.apply(null, args); }, ms);
    };
    wrapped.cancel = function () { if (timer) clearTimeout(timer); timer = null; };
    return wrapped;
  }

  function statusBadge(status) {
    return el("span", { class: "badge st-" + status, "data-status": status, text: t("st_" + status) });
  }
  function outcomeBadge(outcome) {
    return el("span", { class: "badge oc-" + outcome, text: t("oc_" + outcome) });
  }
  function stateBadge(state) {
    return el("span", { class: "badge ds-" + state, text: t("ds_" + state) });
  }

  var APP_NAMES = {
    "id.dana": "DANA", "com.dana.id": "DANA", "com.gojek.app": "GoPay", "com.gojek.gopaymerchant": "GoPay Merchant",
    "com.gojek.resto": "GoBiz", "ovo.id": "OVO", "com.shopee.id": "ShopeePay", "com.shopeepay.merchant.id": "ShopeePay Partner",
    "com.telkom.mwallet": "LinkAja", "com.bca": "BCA mobile", "id.co.bri.brimo": "BRImo", "id.bmri.livin": "Livin' by Mandiri",
    "src.com.bni": "BNI Mobile", "com.jago.digitalBanking": "Jago", "id.co.bankbkemobile.digitalbank": "SeaBank",
    "com.bcadigital.blu": "blu", "callback": "Callback", "manual": "Manual"
  };
  function methodName(method) {
    if (!method) return t("none");
    return APP_NAMES[method] || method;
  }

  function localDayStart(value) { // "2026-03-09" -> local midnight ms
    var parts = value.split("-").map(Number);
    return new Date(parts[0], parts[1] - 1, parts[2]).getTime();
  }

  /* ====================================================================================== */
  /* API                                                                                    */
  /* ====================================================================================== */
  var S = {
    csrf: null, demo: false, loggedIn: false, merchants: null, merchantsPromise: null,
    ws: null, wsBackoff: 1000, wsTimer: null, pingTimer: null, wsConnectedOnce: false,
    attention: 0, feed: [], view: null, attentionTimer: null
  };

  function ApiError(message, status, body) {
    this.message = message; this.status = status; this.body = body;
  }

  function api(method, path, body) {
    var options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRF-Token"] = S.csrf || "";
    return fetch("/admin/api/" + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok || data.success === false) {
          if (response.status === 401 && path !== "login" && path !== "session" && S.loggedIn) loggedOut();
          throw new ApiError(data.message || ("HTTP " + response.status), response.status, data);
        }
        return data;
      });
    }, function () {
      throw new ApiError(t("network_error"), 0, null);
    });
  }

  function qs(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== null && value !== undefined && value !== "") parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function errorText(err) {
    if (err && err.body && err.body.error_code) return problemText(err.message, err.body.error_code, err.body.error_details);
    return err && err.message ? err.message : String(err);
  }

  /* The server words a coded problem in English; in Indonesian the dashboard has its own words
     for each code ("err_" strings), with the details filled in. */
  function problemText(message, code, details) {
    if (WQ.lang() !== "id" || !code) return message;
    var values = {};
    Object.keys(details || {}).forEach(function (key) {
      var value = details[key];
      values[key] = key === "status" && t("st_" + value) !== "st_" + value ? t("st_" + value).toLowerCase() : value;
    });
    var key = "err_" + code;
    var text = t(key, values);
    return text === key ? message : text;
  }

  function loadMerchants(force) {
    if (S.merchantsPromise && !force) return S.merchantsPromise;
    S.merchantsPromise = api("GET", "merchants").then(function (body) {
      S.merchants = body.data;
      return body.data;
    }, function (err) { S.merchantsPromise = null; throw err; });
    return S.merchantsPromise;
  }

  /* ====================================================================================== */
  /* Toasts and dialogs                                                                     */
  /* ====================================================================================== */
  function toast(message, kind) {
    var node = el("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: kind === "error" ? "alert" : "status", text: message });
    $("toasts").appendChild(node);
    setTimeout(function () { node.classList.add("toast-out"); }, kind === "error" ? 6000 : 3800);
    setTimeout(function () { node.remove(); }, kind === "error" ? 6500 : 4300);
  }

  /* A modal dialog. opts: title, body (nodes), confirmText, cancelText, danger, input {label, value, placeholder},
     extra (nodes after input), action(value) -> promise (errors shown inside), hideCancel. Resolves with the
     action's result, or null when dismissed. */
  var dialogOpen = null;
  function openDialog(opts) {
    var dialog = $("dialog");
    if (dialogOpen) dialogOpen(null);
    return new Promise(function (resolve) {
      clear(dialog);
      var input = null;
      var error = el("p", { class: "form-error", role: "alert", hidden: true });
      var confirm = el("button", { type: "submit", class: "btn " + (opts.danger ? "btn-danger" : "btn-primary"), "data-testid": "dialog-confirm" }, opts.confirmText || "OK");
      var cancel = opts.hideCancel ? null : el("button", { type: "button", class: "btn btn-quiet", "data-testid": "dialog-cancel" }, opts.cancelText || t("cancel"));
      var form = el("form", { method: "dialog", class: "dialog-form" },
        el("h2", { id: "dialog-title", text: opts.title }),
        el("div", { class: "dialog-body" }, opts.body || null));
      if (opts.input) {
        input = el("input", { id: "dialog-input", type: "text", value: opts.input.value || "", placeholder: opts.input.placeholder || "", autocomplete: "off", spellcheck: "false" });
        form.appendChild(el("div", { class: "field" }, el("label", { for: "dialog-input", text: opts.input.label }), input));
      }
      if (opts.extra) form.appendChild(el("div", { class: "dialog-extra" }, opts.extra(input)));
      form.appendChild(error);
      form.appendChild(el("div", { class: "dialog-actions" }, cancel, confirm));
      dialog.appendChild(form);
      var done = false;
      function finish(value) {
        if (done) return;
        done = true;
        dialogOpen = null;
        if (dialog.open) dialog.close();
        resolve(value);
      }
      dialogOpen = finish;
      if (cancel) cancel.addEventListener("click", function () { finish(null); });
      dialog.oncancel = function (event) { event.preventDefault(); finish(null); };
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = input ? input.value.trim() : true;
        if (!opts.action) { finish(value); return; }
        confirm.disabled = true;
        error.hidden = true;
        Promise.resolve().then(function () { return opts.action(value); }).then(function (result) {
          finish(result === undefined ? true : result);
        }, function (err) {
          confirm.disabled = false;
          error.textContent = errorText(err);
          error.hidden = false;
        });
      });
      dialog.showModal();
      if (input) { input.focus(); input.select(); } else if (cancel) { cancel.focus(); } else { confirm.focus(); }
    });
  }

  function showSecrets(title, intro, entries) {
    var body = [el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("secret_once_body") }))];
    if (intro) body.unshift(el("p", { text: intro }));
    entries.forEach(function (entry) {
      body.push(copyField(entry.label, entry.value, { secret: true, testid: "secret-" + entry.key }));
    });
    return openDialog({ title: title || t("secret_once_title"), body: body, confirmText: t("secret_saved"), hideCancel: true });
  }

  /* ====================================================================================== */
  /* Login, session, shell                                                                  */
  /* ====================================================================================== */
  function applyStaticText() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll(".lang-toggle"), function (node) {
      node.setAttribute("aria-label", t("switch_lang_label"));
    });
    document.title = "WebQRIS";
    renderNav();
    setLive(S.ws && S.ws.readyState === 1 ? "on" : (S.ws ? "connecting" : "off"));
  }

  function showLogin() {
    $("boot").hidden = true;
    $("shell").hidden = true;
    $("login-screen").hidden = false;
    $("login-password").value = "";
    setTimeout(function () { $("login-password").focus(); }, 0);
  }

  var MARKER = "webqris.session";
  function setMarker(on) {
    try { if (on) localStorage.setItem(MARKER, "1"); else localStorage.removeItem(MARKER); } catch (e) { /* ignore */ }
  }
  function hasMarker() {
    try { return localStorage.getItem(MARKER) === "1"; } catch (e) { return true; }
  }

  function loggedIn(session) {
    setMarker(true);
    S.csrf = session.csrf_token;
    S.demo = !!session.demo;
    S.secretOverlap = Number(session.webhook_secret_overlap_seconds) || 0;
    S.loggedIn = true;
    $("boot").hidden = true;
    $("login-screen").hidden = true;
    $("shell").hidden = false;
    $("demo-badge").hidden = !S.demo;
    connectSocket();
    refreshAttention();
    if (S.attentionTimer) clearInterval(S.attentionTimer);
    S.attentionTimer = setInterval(refreshAttention, 30000);
    route();
  }

  function loggedOut() {
    setMarker(false);
    S.loggedIn = false;
    S.csrf = null;
    S.merchants = null;
    S.merchantsPromise = null;
    S.feed = [];
    if (S.attentionTimer) clearInterval(S.attentionTimer);
    closeSocket();
    destroyView();
    clear($("view"));
    showLogin();
  }

  function setupLogin() {
    $("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var password = $("login-password").value;
      var error = $("login-error");
      var button = $("login-submit");
      error.hidden = true;
      if (!password) {
        error.textContent = t("password_required");
        error.hidden = false;
        return;
      }
      button.disabled = true;
      button.textContent = t("logging_in");
      api("POST", "login", { password: password }).then(function (body) {
        return api("GET", "session").then(function (session) {
          session.csrf_token = session.csrf_token || body.csrf_token;
          loggedIn(session);
        });
      }).catch(function (err) {
        error.textContent = err.status === 401 ? t("wrong_password") : errorText(err);
        error.hidden = false;
        $("login-password").select();
      }).then(function () {
        button.disabled = false;
        button.textContent = t("login");
      });
    });
    $("logout").addEventListener("click", function () {
      api("POST", "logout").catch(function () { return null; }).then(loggedOut);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".lang-toggle"), function (node) {
      node.addEventListener("click", function () { WQ.toggleLang(); });
    });
  }

  var NAV = [
    { route: "overview", icon: "overview", label: "nav_overview" },
    { route: "payments", icon: "payments", label: "nav_payments", short: "nav_short_payments" },
    { route: "notifications", icon: "notifications", label: "nav_notifications", short: "nav_short_notifications" },
    { route: "merchants", icon: "merchants", label: "nav_merchants" },
    { route: "webhooks", icon: "webhooks", label: "nav_webhooks" },
    { route: "audit", icon: "audit", label: "nav_audit" }
  ];

  function renderNav() {
    var nav = clear($("nav"));
    var current = currentRoute()[0] || "overview";
    NAV.forEach(function (item) {
      // The phone's bottom bar has room for about 60 px of text per item: some get a shorter word.
      var label = t(item.label), short = item.short ? t(item.short) : label;
      var link = el("a", { href: "#/" + item.route, class: "nav-link", "data-route": item.route, "aria-current": item.route === current ? "page" : null, title: label },
        icon(item.icon), el("span", { class: "nav-label" },
          el("span", { class: "nav-label-short", text: short }), el("span", { class: "nav-label-full", text: label })));
      if (item.route === "notifications" && S.attention > 0) {
        link.appendChild(el("span", { class: "nav-count", "data-testid": "attention-count", "aria-label": t("oc_needs_attention") + ": " + S.attention, text: S.attention > 99 ? "99+" : String(S.attention) }));
      }
      nav.appendChild(link);
    });
  }

  function refreshAttention() {
    if (!S.loggedIn) return;
    api("GET", "notifications?outcome=needs_attention&limit=100").then(function (body) {
      var count = body.data.length + (body.next_before ? 1 : 0);
      if (count !== S.attention) {
        S.attention = count;
        renderNav();
        if (S.view && S.view.onAttention) S.view.onAttention();
      }
    }, function () { /* shown again at the next refresh */ });
  }
  var refreshAttentionSoon = debounce(refreshAttention, 500);

  /* ====================================================================================== */
  /* Realtime                                                                               */
  /* ====================================================================================== */
  function setLive(state) {
    var node = $("live");
    if (!node) return;
    node.setAttribute("data-state", state);
    $("live-text").textContent = t(state === "on" ? "live_on" : state === "connecting" ? "live_connecting" : "live_off");
  }

  function connectSocket() {
    if (!S.loggedIn || S.ws) return;
    if (S.wsTimer) { clearTimeout(S.wsTimer); S.wsTimer = null; }
    var ws = new WebSocket((location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws");
    S.ws = ws;
    setLive("connecting");
    ws.onopen = function () {
      if (S.ws !== ws) return;
      S.wsBackoff = 1000;
      setLive("on");
      if (S.pingTimer) clearInterval(S.pingTimer);
      S.pingTimer = setInterval(function () { if (ws.readyState === 1) ws.send("ping"); }, 30000);
      if (S.wsConnectedOnce && S.view && S.view.refresh) S.view.refresh(); // catch up on what we missed
      S.wsConnectedOnce = true;
    };
    ws.onmessage = function (message) {
      if (typeof message.data !== "string" || message.data === "pong") return;
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event && event.event) handleEvent(event);
    };
    ws.onerror = function () { /* onclose follows */ };
    ws.onclose = function () {
      if (S.pingTimer) { clearInterval(S.pingTimer); S.pingTimer = null; }
      if (S.ws !== ws) return;
      S.ws = null;
      setLive("off");
      if (!S.loggedIn) return;
      var delay = S.wsBackoff;
      S.wsBackoff = Math.min(30000, S.wsBackoff * 2);
      S.wsTimer = setTimeout(function () {
        S.wsTimer = null;
        // The session may have ended: check before trying the socket again.
        api("GET", "session").then(function (session) {
          S.csrf = session.csrf_token;
          connectSocket();
        }, function (err) {
          if (err.status === 401) loggedOut(); else connectSocket();
        });
      }, delay);
    };
  }

  function closeSocket() {
    if (S.wsTimer) { clearTimeout(S.wsTimer); S.wsTimer = null; }
    if (S.pingTimer) { clearInterval(S.pingTimer); S.pingTimer = null; }
    var ws = S.ws;
    S.ws = null;
    if (ws) { try { ws.close(); } catch (e) { /* already closed */ } }
    setLive("off");
  }

  function handleEvent(event) {
    var item = feedItemFromEvent(event);
    if (item) {
      S.feed.unshift(item);
      if (S.feed.length > 40) S.feed.length = 40;
    }
    if (event.event === "payment_paid" && event.data) {
      toast(t("toast_paid", { total: WQ.rupiah(event.data.total_amount), merchant: event.data.merchant_name || "" }), "ok");
    }
    if (event.event === "notification_needs_attention" && event.data) {
      var d = event.data;
      toast(d.app_not_accepted
        ? t("toast_app_not_accepted", { total: WQ.rupiah(d.parsed_amount), app: d.app || "?", merchant: d.merchant_name || "" })
        : d.parsed_amount != null
        ? t("toast_attention", { total: WQ.rupiah(d.parsed_amount), merchant: d.merchant_name || "" })
        : t("feed_attention_unparsed") + " · " + (d.merchant_name || ""), "warn");
    }
    if (event.event === "payment_paid" || event.event === "notification_needs_attention") refreshAttentionSoon();
    if (S.view && S.view.onEvent) S.view.onEvent(event);
  }

  function eventInvoiceIds(event) {
    var data = event.data || {};
    if (event.event === "payments_expired") return data.invoice_ids || [];
    return data.invoice_id ? [data.invoice_id] : [];
  }

  /* ====================================================================================== */
  /* Live feed items                                                                        */
  /* ====================================================================================== */
  function feedItemFromEvent(event) {
    var d = event.data || {};
    var at = event.ts || Date.now();
    if (event.event === "new_payment") return { kind: "new", at: at, invoice: d.invoice_id, total: d.total_amount, merchant: d.merchant_name };
    if (event.event === "payment_paid") return { kind: "paid", at: at, invoice: d.invoice_id, total: d.total_amount, merchant: d.merchant_name, sender: d.sender_name, method: d.payment_method };
    if (event.event === "payments_expired") return { kind: "expired", at: at, count: d.count, invoices: d.invoice_ids };
    if (event.event === "webhook_delivered") return { kind: "webhook", at: at, invoice: d.invoice_id, event: d.event, status: d.status_code };
    if (event.event === "notification_needs_attention") return { kind: "attention", at: at, total: d.parsed_amount, merchant: d.merchant_name };
    return null;
  }

  function feedItemsFromRecent(payments) {
    return payments.map(function (p) {
      var kind = p.status === "paid" ? "paid" : p.status === "pending" ? "pending" : p.status === "cancelled" ? "cancelled" : "expired_one";
      var at = WQ.toDate(p.status === "paid" ? p.paid_at : p.created_at);
      return { kind: kind, at: at ? at.getTime() : 0, invoice: p.invoice_id, total: p.total_amount, merchant: p.merchant_name, sender: p.sender_name, method: p.payment_method };
    });
  }

  function feedRow(item) {
    var text;
    if (item.kind === "new") text = t("feed_new", { total: WQ.rupiah(item.total) });
    else if (item.kind === "paid") text = t("feed_paid", { total: WQ.rupiah(item.total) });
    else if (item.kind === "expired") text = t("feed_expired", { count: item.count });
    else if (item.kind === "webhook") text = t("feed_webhook") + (item.event ? " · " + item.event : "");
    else if (item.kind === "attention") text = item.total != null ? t("feed_attention", { total: WQ.rupiah(item.total) }) : t("feed_attention_unparsed");
    else if (item.kind === "pending") text = t("feed_pending", { total: WQ.rupiah(item.total) });
    else if (item.kind === "cancelled") text = t("feed_cancelled", { total: WQ.rupiah(item.total) });
    else text = t("feed_expired_one", { total: WQ.rupiah(item.total) });
    var meta = [];
    if (item.merchant) meta.push(item.merchant);
    if (item.sender) meta.push(t("from_sender", { name: item.sender }));
    if (item.kind === "paid" && item.method) meta.push(methodName(item.method));
    if (item.invoice) meta.push(item.invoice);
    var body = el("div", { class: "feed-body" }, el("div", { class: "feed-text", text: text }), meta.length ? el("div", { class: "feed-meta", text: meta.join(" · ") }) : null);
    var content = [el("span", { class: "feed-dot feed-" + item.kind, "aria-hidden": "true" }), body,
      el("time", { class: "feed-time", datetime: new Date(item.at).toISOString(), text: WQ.timeOnly(item.at) })];
    if (item.invoice) return el("li", null, el("a", { class: "feed-item", href: "#/payments/" + encodeURIComponent(item.invoice) }, content));
    if (item.kind === "attention") return el("li", null, el("a", { class: "feed-item", href: "#/notifications" }, content));
    return el("li", null, el("div", { class: "feed-item" }, content));
  }

  /* ====================================================================================== */
  /* Router                                                                                 */
  /* ====================================================================================== */
  function currentRoute() {
    var hash = location.hash.replace(/^#\/?/, "").split("?")[0];
    return hash.split("/").filter(function (p) { return p !== ""; }).map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
  }

  function destroyView() {
    if (S.view && S.view.destroy) S.view.destroy();
    S.view = null;
  }

  function route() {
    if (!S.loggedIn) return;
    var parts = currentRoute();
    var name = parts[0] || "overview";
    destroyView();
    renderNav();
    var container = clear($("view"));
    container.setAttribute("data-view", name);
    var views = { overview: viewOverview, payments: parts[1] ? viewPaymentDetail : viewPayments, notifications: viewNotifications,
      merchants: parts[1] ? viewMerchantForm : viewMerchants, webhooks: viewWebhooks, audit: viewAudit };
    var make = views[name] || viewOverview;
    S.view = make(container, parts.slice(1)) || null;
    window.scrollTo(0, 0);
  }

  function pageHeader(title, actions, sub) {
    return el("div", { class: "page-head" },
      el("div", { class: "page-title" }, el("h1", { text: title }), sub ? el("p", { class: "muted", text: sub }) : null),
      actions ? el("div", { class: "page-actions" }, actions) : null);
  }

  function loadingBlock() {
    return el("div", { class: "loading-block" }, el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: t("loading") }));
  }

  function errorBlock(err, retry) {
    return el("div", { class: "callout callout-error", role: "alert" },
      el("span", { text: t("error_generic", { message: errorText(err) }) }),
      retry ? el("button", { type: "button", class: "btn btn-quiet btn-sm", onclick: retry }, t("retry")) : null);
  }

  function merchantSelect(id, value, onChange) {
    var select = el("select", { id: id }, el("option", { value: "", text: t("all_merchants") }));
    loadMerchants().then(function (list) {
      list.forEach(function (m) { select.appendChild(el("option", { value: String(m.id), text: m.name })); });
      select.value = value || "";
    }, function () { /* the filter stays at "all" */ });
    select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  function field(label, control, id, extraClass) {
    return el("div", { class: "field" + (extraClass ? " " + extraClass : "") }, el("label", { for: id, text: label }), control);
  }

  /* ====================================================================================== */
  /* Overview                                                                               */
  /* ====================================================================================== */
  function viewOverview(container) {
    var alive = true;
    var cards = el("div", { class: "cards" });
    var chartBox = el("section", { class: "panel chart-panel" }, el("h2", { text: t("ov_chart") }), loadingBlock());
    var feedList = el("ul", { class: "feed", id: "feed" });
    var feedPanel = el("section", { class: "panel feed-panel" },
      el("div", { class: "panel-head" }, el("h2", { text: t("ov_feed") }), el("a", { href: "#/payments", class: "link-more", text: t("ov_all_payments") })),
      feedList);
    append(container, [pageHeader(t("nav_overview")), cards, el("div", { class: "overview-grid" }, chartBox, feedPanel)]);

    function renderCards(data) {
      clear(cards);
      append(cards, [
        el("div", { class: "stat stat-money" },
          el("div", { class: "stat-label", text: t("ov_today_sum") }),
          el("div", { class: "stat-value", id: "today-sum", text: WQ.rupiah(data.today.sum) }),
          el("div", { class: "stat-sub", text: WQ.dateOnly(new Date(), { weekday: "long", day: "numeric", month: "long" }) })),
        el("div", { class: "stat" },
          el("div", { class: "stat-label", text: t("ov_today_count") }),
          el("div", { class: "stat-value", id: "today-count", text: String(data.today.count) }),
          el("div", { class: "stat-sub", text: t("ov_today") })),
        el("a", { class: "stat stat-link" + (S.attention ? " stat-attention" : ""), href: "#/notifications?needs_attention" },
          el("div", { class: "stat-label", text: t("ov_attention") }),
          el("div", { class: "stat-value", text: String(S.attention) }),
          el("div", { class: "stat-sub", text: S.attention ? t("ov_attention_some") : t("ov_attention_none") }))
      ]);
    }

    function renderChart(days) {
      clear(chartBox);
      var max = Math.max.apply(null, days.map(function (d) { return d.sum; }).concat([1]));
      var detail = el("p", { class: "chart-detail", "aria-live": "polite" });
      var chart = el("div", { class: "chart", role: "group", "aria-label": t("ov_chart_label") });
      function describe(day) {
        var date = WQ.dateOnly(day.date + "T12:00:00", { weekday: "short", day: "numeric", month: "short" });
        return t("ov_day_detail", { date: date, sum: WQ.rupiah(day.sum), count: day.count });
      }
      days.forEach(function (day, index) {
        var isToday = index === days.length - 1;
        var bar = el("span", { class: "bar" + (day.sum ? "" : " bar-empty") });
        bar.style.height = (day.sum ? Math.max(3, (day.sum / max) * 100) : 0) + "%";
        var d = new Date(day.date + "T12:00:00");
        var column = el("button", { type: "button", class: "bar-col" + (isToday ? " is-today" : ""), title: describe(day), "aria-label": describe(day) },
          el("span", { class: "bar-track" }, bar),
          el("span", { class: "bar-label", text: String(d.getDate()) }));
        var show = function () { detail.textContent = describe(day); };
        column.addEventListener("mouseenter", show);
        column.addEventListener("focus", show);
        column.addEventListener("click", show);
        chart.appendChild(column);
      });
      detail.textContent = describe(days[days.length - 1]);
      var total = days.reduce(function (a, d) { return a + d.sum; }, 0);
      var count = days.reduce(function (a, d) { return a + d.count; }, 0);
      append(chartBox, [
        el("div", { class: "panel-head" }, el("h2", { text: t("ov_chart") }), el("span", { class: "muted small", text: WQ.rupiah(total) + " · " + count + "×" })),
        el("div", { class: "chart-wrap" }, el("div", { class: "chart-max muted small", text: WQ.rupiah(max === 1 ? 0 : max) }), chart),
        detail
      ]);
    }

    function renderFeed() {
      clear(feedList);
      if (!S.feed.length) {
        feedList.appendChild(el("li", { class: "empty", text: t("ov_feed_empty") }));
        return;
      }
      S.feed.slice(0, 25).forEach(function (item) { feedList.appendChild(feedRow(item)); });
    }

    var seeded = false;
    function load() {
      var offset = -new Date().getTimezoneOffset();
      return api("GET", "overview" + qs({ tz_offset: Math.max(-840, Math.min(840, offset)) })).then(function (data) {
        if (!alive) return;
        renderCards(data);
        renderChart(data.days);
        if (!seeded) {
          seeded = true;
          // Live items we already have come first; the recent list fills in behind them.
          var known = {};
          S.feed.forEach(function (f) { if (f.invoice) known[f.invoice] = true; });
          feedItemsFromRecent(data.recent).forEach(function (f) { if (!known[f.invoice]) S.feed.push(f); });
          S.feed.sort(function (a, b) { return b.at - a.at; });
          renderFeed();
        }
      }, function (err) {
        if (!alive) return;
        clear(chartBox);
        chartBox.appendChild(errorBlock(err, load));
      });
    }
    var reload = debounce(load, 400);
    renderFeed();
    load();
    return {
      onEvent: function () { renderFeed(); reload(); },
      onAttention: function () { reload(); },
      refresh: load,
      destroy: function () { alive = false; reload.cancel(); }
    };
  }

  /* ====================================================================================== */
  /* Payments                                                                               */
  /* ====================================================================================== */
  var paymentFilters = { q: "", status: "", merchant_id: "", from: "", to: "" };

  function viewPayments(container) {
    var alive = true;
    var rows = [];
    var nextBefore = null;
    var flash = {};
    var searchInput = el("input", { id: "pf-q", type: "search", value: paymentFilters.q, placeholder: t("search_ph"), autocomplete: "off" });
    var statusSelect = el("select", { id: "pf-status" }, el("option", { value: "", text: t("all_statuses") }),
      ["pending", "paid", "expired", "cancelled"].map(function (s) { return el("option", { value: s, text: t("st_" + s) }); }));
    statusSelect.value = paymentFilters.status;
    var fromInput = el("input", { id: "pf-from", type: "date", value: paymentFilters.from });
    var toInput = el("input", { id: "pf-to", type: "date", value: paymentFilters.to });
    var resetButton = el("button", { type: "button", class: "btn btn-quiet" }, t("reset"));
    var activeCount = ["status", "merchant_id", "from", "to"].filter(function (k) { return paymentFilters[k]; }).length;
    var extra = el("div", { class: "filters-extra" + (activeCount ? " is-open" : ""), id: "pf-extra" },
      field(t("status"), statusSelect, "pf-status"),
      field(t("merchant"), merchantSelect("pf-merchant", paymentFilters.merchant_id, function (v) { paymentFilters.merchant_id = v; load(); }), "pf-merchant"),
      field(t("date_from"), fromInput, "pf-from"),
      field(t("date_to"), toInput, "pf-to"),
      el("div", { class: "field field-button" }, resetButton));
    var toggle = el("button", { type: "button", class: "btn btn-quiet filters-toggle", "aria-controls": "pf-extra", "aria-expanded": String(!!activeCount) },
      t("filters") + (activeCount ? " (" + activeCount + ")" : ""));
    toggle.addEventListener("click", function () {
      var open = !extra.classList.contains("is-open");
      extra.classList.toggle("is-open", open);
      toggle.setAttribute("aria-expanded", String(open));
    });
    var filters = el("form", { class: "filters filters-payments", role: "search", onsubmit: function (e) { e.preventDefault(); load(); } },
      field(t("search"), searchInput, "pf-q", "field-grow"),
      el("div", { class: "field field-toggle" }, toggle),
      extra);
    var results = el("div", { class: "results" }, loadingBlock());
    var more = el("div", { class: "more" });
    append(container, [pageHeader(t("pay_title")), filters, results, more]);

    var searchLater = debounce(function () { paymentFilters.q = searchInput.value.trim(); load(); }, 300);
    searchInput.addEventListener("input", searchLater);
    statusSelect.addEventListener("change", function () { paymentFilters.status = statusSelect.value; load(); });
    fromInput.addEventListener("change", function () { paymentFilters.from = fromInput.value; load(); });
    toInput.addEventListener("change", function () { paymentFilters.to = toInput.value; load(); });
    resetButton.addEventListener("click", function () {
      paymentFilters = { q: "", status: "", merchant_id: "", from: "", to: "" };
      route();
    });

    function params(before, limit) {
      return {
        status: paymentFilters.status, merchant_id: paymentFilters.merchant_id, q: paymentFilters.q,
        from: paymentFilters.from ? localDayStart(paymentFilters.from) : "",
        to: paymentFilters.to ? localDayStart(paymentFilters.to) + 86400000 : "",
        before: before || "", limit: limit || 50
      };
    }
    function filtered() {
      return !!(paymentFilters.q || paymentFilters.status || paymentFilters.merchant_id || paymentFilters.from || paymentFilters.to);
    }

    function load(keepCount) {
      var limit = keepCount ? Math.min(200, Math.max(50, rows.length)) : 50;
      return api("GET", "payments" + qs(params(null, limit))).then(function (body) {
        if (!alive) return;
        rows = body.data;
        nextBefore = body.next_before;
        render();
      }, function (err) {
        if (!alive) return;
        clear(results).appendChild(errorBlock(err, function () { load(); }));
      });
    }

    function loadMore() {
      api("GET", "payments" + qs(params(nextBefore))).then(function (body) {
        if (!alive) return;
        rows = rows.concat(body.data);
        nextBefore = body.next_before;
        render();
      }, function (err) { toast(errorText(err), "error"); });
    }

    function render() {
      clear(results);
      clear(more);
      if (!rows.length) {
        results.appendChild(el("div", { class: "empty-state", text: filtered() ? t("no_payments") : t("no_payments_yet") }));
        return;
      }
      var tbody = el("tbody");
      rows.forEach(function (p) { tbody.appendChild(paymentRow(p)); });
      results.appendChild(el("table", { class: "table table-payments" },
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: t("col_invoice") }), el("th", { scope: "col", text: t("merchant") }),
          el("th", { scope: "col", class: "num", text: t("col_total") }), el("th", { scope: "col", text: t("status") }),
          el("th", { scope: "col", text: t("col_created") }), el("th", { scope: "col", text: t("col_paid") }))),
        tbody));
      if (nextBefore) more.appendChild(el("button", { type: "button", class: "btn btn-quiet", onclick: loadMore }, t("load_more")));
      flash = {};
    }

    function paymentRow(p) {
      var href = "#/payments/" + encodeURIComponent(p.invoice_id);
      var tr = el("tr", { class: "row-link" + (flash[p.invoice_id] ? " flash" : ""), "data-invoice": p.invoice_id, "data-status": p.status },
        el("td", { "data-label": t("col_invoice") },
          el("a", { href: href, class: "invoice-link", text: p.invoice_id }),
          p.merchant_order_id ? el("div", { class: "sub", text: t("order") + " " + p.merchant_order_id }) : null,
          p.customer_name ? el("div", { class: "sub", text: p.customer_name }) : null),
        el("td", { "data-label": t("merchant"), text: p.merchant_name }),
        el("td", { "data-label": t("col_total"), class: "num" },
          el("strong", { class: "money", text: WQ.rupiah(p.total_amount) }),
          el("div", { class: "sub", text: WQ.rupiah(p.amount) + " + " + p.unique_code })),
        el("td", { "data-label": t("status") }, statusBadge(p.status)),
        el("td", { "data-label": t("col_created") }, el("time", { datetime: p.created_at, text: WQ.dateTime(p.created_at) })),
        el("td", { "data-label": t("col_paid") }, p.status === "paid" ? [
          el("div", { text: WQ.dateTime(p.paid_at) }),
          el("div", { class: "sub", text: [methodName(p.payment_method), p.sender_name].filter(Boolean).join(" · ") })] : el("span", { class: "muted", text: t("none") })));
      tr.addEventListener("click", function (event) {
        if (event.target.closest("a, button")) return;
        location.hash = href;
      });
      return tr;
    }

    var reload = debounce(function () { load(true); }, 250);
    load();
    return {
      onEvent: function (event) {
        eventInvoiceIds(event).forEach(function (id) { flash[id] = true; });
        if (event.event !== "webhook_delivered") reload();
      },
      refresh: function () { load(true); },
      destroy: function () { alive = false; reload.cancel(); searchLater.cancel(); }
    };
  }

  /* ---- payment detail ------------------------------------------------------------------ */
  function viewPaymentDetail(container, params) {
    var alive = true;
    var invoiceId = params[0];
    var body = el("div", { class: "detail" }, loadingBlock());
    append(container, [
      el("a", { class: "back-link", href: "#/payments" }, icon("back"), el("span", { text: t("nav_payments") })),
      body
    ]);

    function load() {
      return api("GET", "payments/" + encodeURIComponent(invoiceId)).then(function (res) {
        if (!alive) return;
        render(res.data);
      }, function (err) {
        if (!alive) return;
        clear(body).appendChild(err.status === 404 ? el("div", { class: "empty-state", text: t("not_found") }) : errorBlock(err, load));
      });
    }

    function render(p) {
      clear(body);
      body.setAttribute("data-status", p.status);
      var actions = el("div", { class: "detail-actions" });
      if (p.status === "pending" || p.status === "expired") {
        actions.appendChild(el("button", { type: "button", class: "btn btn-primary", id: "confirm-payment", onclick: function () { confirmManual(p); } }, icon("check"), el("span", { text: t("confirm_manual") })));
      }
      if (p.status === "pending") {
        actions.appendChild(el("button", { type: "button", class: "btn btn-danger-quiet", id: "cancel-payment", onclick: function () { cancelPayment(p); } }, t("cancel_payment")));
      }
      var facts = el("dl", { class: "facts" });
      function fact(label, value, cls) {
        facts.appendChild(el("dt", { text: label }));
        facts.appendChild(el("dd", { class: cls || null }, value === null || value === undefined || value === "" ? t("none") : value));
      }
      fact(t("merchant"), p.merchant_name);
      fact(t("order_id"), p.merchant_order_id);
      fact(t("customer"), p.customer_name);
      fact(t("amount"), WQ.rupiah(p.amount));
      fact(t("unique_code"), WQ.rupiah(p.unique_code));
      fact(t("total"), el("strong", { text: WQ.rupiah(p.total_amount) }));
      fact(t("created"), WQ.dateTime(p.created_at, true));
      fact(t("expires"), WQ.dateTime(p.expired_at, true));
      fact(t("paid_at"), p.paid_at ? WQ.dateTime(p.paid_at, true) : null);
      fact(t("method"), p.payment_method ? methodName(p.payment_method) : null);
      fact(t("sender"), p.sender_name);

      var qr = el("div", { class: "detail-qr" + (p.status === "pending" ? "" : " is-inactive") },
        el("img", { src: p.qr_svg_url, alt: t("qr_for", { total: WQ.rupiah(p.total_amount) }), width: "220", height: "220" }),
        el("div", { class: "detail-qr-links" },
          el("a", { class: "btn btn-quiet btn-sm", href: p.checkout_url, target: "_blank", rel: "noopener" }, icon("link"), el("span", { text: t("checkout_link") })),
          copyButton(location.origin + p.checkout_url)));

      append(body, [
        el("div", { class: "detail-head" },
          el("div", null,
            el("div", { class: "muted small", text: t("detail_title") }),
            el("h1", { class: "detail-id" }, el("span", { text: p.invoice_id }), " ", statusBadge(p.status)),
            el("div", { class: "detail-total money", text: WQ.rupiah(p.total_amount) })),
          actions),
        el("div", { class: "detail-grid" }, el("section", { class: "panel" }, facts), el("section", { class: "panel panel-qr" }, qr)),
        el("section", { class: "panel" }, el("h2", { text: t("notifications_of") }),
          p.notifications.length ? el("ul", { class: "notif-list compact" }, p.notifications.map(function (n) { return notificationItem(n, { compact: true }); }))
            : el("p", { class: "muted", text: t("no_notifications") })),
        el("section", { class: "panel" }, el("h2", { text: t("deliveries_of") }),
          p.deliveries.length ? el("div", { class: "deliveries" }, p.deliveries.map(function (d) { return deliveryCard(d, { attempts: d.attempts_log, open: true, onChange: load }); }))
            : el("p", { class: "muted", text: p.status === "paid" ? t("no_deliveries_url") : t("no_deliveries") }))
      ]);
    }

    function confirmManual(p) {
      openDialog({
        title: t("confirm_manual_title"),
        body: el("p", { text: t("confirm_manual_body", { invoice: p.invoice_id, total: WQ.rupiah(p.total_amount) }) }),
        confirmText: t("confirm_manual_ok"), cancelText: t("keep"),
        action: function () { return api("POST", "payments/" + encodeURIComponent(p.invoice_id) + "/confirm"); }
      }).then(function (result) {
        if (!result) return;
        toast(t("confirmed_toast", { invoice: p.invoice_id }), "ok");
        load();
      });
    }

    function cancelPayment(p) {
      openDialog({
        title: t("cancel_title"), danger: true,
        body: el("p", { text: t("cancel_body", { invoice: p.invoice_id, total: WQ.rupiah(p.total_amount) }) }),
        confirmText: t("cancel_ok"), cancelText: t("keep"),
        action: function () { return api("POST", "payments/" + encodeURIComponent(p.invoice_id) + "/cancel"); }
      }).then(function (result) {
        if (!result) return;
        toast(t("cancelled_toast", { invoice: p.invoice_id }), "ok");
        load();
      });
    }

    var reload = debounce(load, 250);
    load();
    return {
      onEvent: function (event) {
        if (eventInvoiceIds(event).indexOf(invoiceId) >= 0) reload();
      },
      refresh: load,
      destroy: function () { alive = false; reload.cancel(); }
    };
  }

  /* ====================================================================================== */
  /* Teach a wording, trust an app, pay anyway                                              */
  /* The owner marks the amount (and the payer) in an unreadable notification; the server   */
  /* derives the wording and says what it reads before anything is stored.                  */
  /* ====================================================================================== */
  WQ.add({
    id: {
      teach: "Ajari kalimat ini", trust_app: "Percayai aplikasi ini",
      teach_title: "Ajari WebQRIS kalimat ini",
      teach_intro: "Tandai nominal di teks notifikasi: pilih salah satu angka di bawah, atau blok teksnya lalu tekan \"Tandai sebagai nominal\". Jika ada nama pembayar, blok juga namanya. Setelah itu WebQRIS membaca sendiri kalimat yang sama dari aplikasi ini.",
      teach_text: "Teks notifikasi", teach_numbers: "Angka di teks:", teach_mark_amount: "Tandai sebagai nominal",
      teach_mark_sender: "Tandai sebagai nama pembayar", teach_clear_sender: "Hapus nama",
      teach_select_first: "Blok dulu bagian teksnya.", teach_need_amount: "Tandai nominalnya dulu.",
      teach_reads: "Akan terbaca: {amount}", teach_reads_from: "Akan terbaca: {amount} dari {sender}",
      teach_wording: "Kalimat yang akan dipelajari", teach_checking: "Memeriksa…",
      teach_pay_which: "Lunasi tagihan mana?", teach_pay_none: "Jangan lunasi sekarang, simpan kalimatnya saja",
      teach_ok: "Pelajari", teach_ok_pay: "Pelajari & lunasi",
      teach_saved: "Kalimat dipelajari. Notifikasi berikutnya dengan kalimat ini terbaca sendiri.",
      teach_saved_paid: "Kalimat dipelajari dan tagihan {invoice} lunas.",
      wr_noise: "Teks ini terbaca sebagai uang keluar, promo, kode, tagihan, atau transaksi gagal: WebQRIS tidak pernah membacanya sebagai pembayaran.",
      wr_not_specific: "Terlalu sedikit teks selain nominal dan nama: kalimat seperti ini akan membaca hampir apa saja.",
      wr_not_an_amount: "Yang ditandai bukan nominal rupiah utuh: tandai semua angkanya (tanpa sen).",
      wr_bad_sender: "Yang ditandai sebagai nama tidak terbaca sebagai nama pembayar.",
      wr_overlap: "Nama dan nominal saling tumpang tindih.", wr_bad_span: "Tandai bagian teks notifikasi.",
      wr_empty: "Notifikasi ini tidak punya teks.", wr_too_long: "Notifikasi ini terlalu panjang untuk dipelajari.",
      wr_does_not_read: "Tanda ini tidak membaca kembali nominal dan nama yang sama.",
      err_wording_refused: "WebQRIS tidak dapat mempelajari kalimat ini.",
      err_notification_not_teachable: "Hanya notifikasi dari HP yang nominalnya tak terbaca dan belum dilampirkan yang dapat diajarkan.",
      err_too_many_wordings: "Merchant ini sudah punya {count} kalimat untuk aplikasi ini: hapus sebagian di halaman Merchant dulu.",
      err_amount_mismatch: "Notifikasi menyebut {notification_amount}, tetapi total tagihan {invoice_total}.",
      err_app_already_trusted: "Notifikasi ini tidak ditolak karena aplikasinya.",
      err_no_app: "Notifikasi ini tidak menyebut aplikasi: izinkan notifikasi tanpa nama aplikasi di pengaturan merchant.",
      pay_anyway_title: "Nominal berbeda: tetap lunasi?",
      pay_anyway_body: "Notifikasi menyebut {amount}, tetapi tagihan {invoice} totalnya {total}.",
      pay_anyway_less: "Uang yang masuk kurang {diff} dari total tagihan. Lunasi hanya jika Anda yakin uangnya sudah cukup.",
      pay_anyway_more: "Uang yang masuk lebih {diff} dari total tagihan.",
      pay_anyway_ok: "Tetap lunasi", keep_pending: "Jangan",
      trust_title: "Percayai {app} untuk {merchant}?",
      trust_body: "Mulai sekarang notifikasi dari {app} yang terbaca sebagai uang masuk akan melunasi tagihan {merchant} secara otomatis. Lakukan hanya jika {app} adalah aplikasi dompet atau bank toko: siapa pun yang bisa mengirim pesan ke aplikasi lain (email, SMS, chat) bisa memalsukan pembayaran.",
      trust_note: "Notifikasi ini sendiri tetap menunggu: lampirkan ke tagihannya.",
      trust_ok: "Percayai aplikasi ini", trusted_toast: "{app} kini boleh melunasi tagihan {merchant}.",
      m_wordings: "Kalimat yang diajarkan", m_wordings_none: "Belum ada. Ajari kalimat dari notifikasi yang tak terbaca di Notifikasi.",
      m_wording_app: "aplikasi {app}", m_wording_no_app: "tanpa nama aplikasi", m_wording_delete: "Hapus",
      wording_delete_title: "Hapus kalimat ini?",
      wording_delete_body: "WebQRIS tidak lagi membaca kalimat ini sendiri; notifikasinya akan menunggu di Notifikasi.",
      wording_deleted: "Kalimat dihapus.",
      "a_wording.teach": "Kalimat notifikasi diajarkan", "a_wording.delete": "Kalimat yang diajarkan dihapus",
      "a_merchant.trust_app": "Aplikasi dipercaya untuk merchant"
    },
    en: {
      teach: "Teach this wording", trust_app: "Trust this app",
      teach_title: "Teach WebQRIS this wording",
      teach_intro: "Mark the amount in the notification's text: pick one of the numbers below, or select it in the text and press \"Mark as amount\". If the text names the payer, select the name too. From then on WebQRIS reads the same wording from this app by itself.",
      teach_text: "Notification text", teach_numbers: "Numbers in the text:", teach_mark_amount: "Mark as amount",
      teach_mark_sender: "Mark as payer's name", teach_clear_sender: "Remove name",
      teach_select_first: "Select part of the text first.", teach_need_amount: "Mark the amount first.",
      teach_reads: "Will read: {amount}", teach_reads_from: "Will read: {amount} from {sender}",
      teach_wording: "Wording to learn", teach_checking: "Checking…",
      teach_pay_which: "Pay which bill?", teach_pay_none: "Don't pay now, only learn the wording",
      teach_ok: "Learn", teach_ok_pay: "Learn & pay",
      teach_saved: "Wording learnt. The next notification with this wording is read by itself.",
      teach_saved_paid: "Wording learnt and bill {invoice} paid.",
      wr_noise: "This text reads as money going out, a promo, a code, a bill or a failed payment: WebQRIS never reads it as a payment.",
      wr_not_specific: "Too little text besides the amount and the name: such a wording would read almost anything.",
      wr_not_an_amount: "What is marked is not a whole rupiah amount: mark all of its digits (no cents).",
      wr_bad_sender: "What is marked as the name does not read as a payer's name.",
      wr_overlap: "The name and the amount overlap.", wr_bad_span: "Mark part of the notification's text.",
      wr_empty: "This notification has no text.", wr_too_long: "This notification is too long to learn from.",
      wr_does_not_read: "These marks do not read back the same amount and name.",
      pay_anyway_title: "Different amount: pay anyway?",
      pay_anyway_body: "The notification says {amount}, but bill {invoice} totals {total}.",
      pay_anyway_less: "The money received is {diff} short of the bill's total. Pay only if you are sure enough money arrived.",
      pay_anyway_more: "The money received is {diff} more than the bill's total.",
      pay_anyway_ok: "Pay anyway", keep_pending: "Don't",
      trust_title: "Trust {app} for {merchant}?",
      trust_body: "From now on, notifications from {app} that read as money received pay {merchant}'s bills by themselves. Only do this if {app} is the shop's wallet or bank app: anyone who can message another app (mail, SMS, chat) could fake a payment.",
      trust_note: "This notification itself still waits: attach it to its bill.",
      trust_ok: "Trust this app", trusted_toast: "{app} may now pay {merchant}'s bills.",
      m_wordings: "Taught wordings", m_wordings_none: "None yet. Teach one from an unreadable notification under Notifications.",
      m_wording_app: "app {app}", m_wording_no_app: "no app name", m_wording_delete: "Delete",
      wording_delete_title: "Delete this wording?",
      wording_delete_body: "WebQRIS no longer reads this wording by itself; its notifications will wait under Notifications.",
      wording_deleted: "Wording deleted.",
      "a_wording.teach": "Notification wording taught", "a_wording.delete": "Taught wording deleted",
      "a_merchant.trust_app": "App trusted for a merchant"
    }
  });

  /* The notification as the server counts marks in it: title, a line break, the message. A
     textarea shows it with line breaks made "\n", and counts in UTF-16 units; the server counts
     code points of the original text. `toServer` maps a shown position back. */
  function teachText(n) {
    var original = [n.title, n.message].filter(Boolean).join("\n");
    var shown = "", back = [];
    for (var i = 0; i < original.length; i++) {
      var ch = original[i];
      if (ch === "\r") { back.push(i); shown += "\n"; if (original[i + 1] === "\n") i++; continue; }
      back.push(i);
      shown += ch;
    }
    back.push(original.length);
    return {
      shown: shown,
      toServer: function (position) { return Array.from(original.slice(0, back[position])).length; }
    };
  }

  var AMOUNT_TOKEN = /(?:(?:Rp\.?|IDR)[ \t]*)?[0-9](?:[0-9]|[.,](?=[0-9]))*/gi;
  function numberCandidates(text) {
    var found = [], m;
    AMOUNT_TOKEN.lastIndex = 0;
    while ((m = AMOUNT_TOKEN.exec(text)) && found.length < 12) {
      found.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
    }
    return found;
  }

  /* The bills a notification of this merchant may pay: pending and expired ones. */
  function payableInvoices(merchantId) {
    return Promise.all(["pending", "expired"].map(function (status) {
      return api("GET", "payments" + qs({ status: status, merchant_id: merchantId, limit: 20 })).then(function (b) { return b.data; });
    })).then(function (lists) { return lists[0].concat(lists[1]); });
  }

  function mismatchOf(err) {
    return err && err.status === 409 && err.body && err.body.error_code === "amount_mismatch" ? err.body.error_details : null;
  }

  /* Asks before a notification pays a bill of another total; send(true) pays anyway. */
  function payAnywayDialog(details, invoiceId, send) {
    var diff = details.notification_amount - details.invoice_total;
    return openDialog({
      title: t("pay_anyway_title"), danger: true,
      body: [el("p", { "data-testid": "pay-anyway-amounts", text: t("pay_anyway_body", { amount: WQ.rupiah(details.notification_amount), invoice: invoiceId, total: WQ.rupiah(details.invoice_total) }) }),
        el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t(diff < 0 ? "pay_anyway_less" : "pay_anyway_more", { diff: WQ.rupiah(Math.abs(diff)) }) }))],
      confirmText: t("pay_anyway_ok"), cancelText: t("keep_pending"),
      action: function () { return send(true).then(function () { return { done: true, invoiceId: invoiceId }; }); }
    });
  }

  /* Sends; on a different total asks, then sends again confirmed. Resolves {done, invoiceId}
     once sent (invoiceId null when nothing was to be paid), null when the owner kept it unpaid. */
  function sendWithPayAnyway(send, invoiceId) {
    return send(false).then(function () { return { done: true, invoiceId: invoiceId }; }, function (err) {
      var details = mismatchOf(err);
      if (!details) throw err;
      return { mismatch: details, invoiceId: invoiceId, send: send };
    });
  }
  function settlePayAnyway(result) {
    if (!result || !result.mismatch) return Promise.resolve(result);
    return payAnywayDialog(result.mismatch, result.invoiceId, result.send);
  }

  function teachErrorText(err) {
    var body = err && err.body;
    if (body && body.error_code === "wording_refused" && body.error_details) {
      var key = "wr_" + body.error_details.reason;
      return t(key) === key ? err.message : t(key);
    }
    return errorText(err);
  }

  function teachDialog(n) {
    var text = teachText(n);
    var marks = { amount: null, sender: null };
    var chosenInvoice = null; // null: not chosen yet; "": only learn
    var invoices = [];
    var preview = { amount: null };
    var seq = 0;
    /* Not `readonly`: Chromium gives a read-only text box no caret, so a keyboard could not
       select in it. Edits are refused instead, and the value is put back if one slips in. */
    var area = el("textarea", { id: "teach-text", class: "teach-text", "aria-readonly": "true", rows: String(Math.min(8, Math.max(3, Math.ceil(text.shown.length / 42)))), spellcheck: "false", autocomplete: "off", autocapitalize: "off", inputmode: "none", "aria-describedby": "teach-intro" });
    area.value = text.shown;
    area.addEventListener("beforeinput", function (event) { event.preventDefault(); });
    area.addEventListener("input", function () { if (area.value !== text.shown) area.value = text.shown; });
    var marked = el("p", { class: "teach-marked", "data-testid": "teach-marked", "aria-hidden": "true" });
    var result = el("div", { class: "teach-result", role: "status", "aria-live": "polite", "data-testid": "teach-result" });
    var numbers = el("div", { class: "teach-numbers", role: "group", "aria-label": t("teach_numbers") });
    var invoiceBox = el("fieldset", { class: "teach-invoices" }, el("legend", { text: t("teach_pay_which") }), loadingBlock());
    var confirmLabel = null;

    function selection() {
      var start = area.selectionStart, end = area.selectionEnd;
      return start === end ? null : { start: start, end: end };
    }
    function markFromSelection(kind) {
      var span = selection();
      if (!span) { result.textContent = t("teach_select_first"); area.focus(); return; }
      marks[kind] = span;
      changed();
    }
    function changed() { renderNumbers(); renderMarked(); check(); }

    /* Built once and updated in place: a button chosen with the keyboard keeps its focus. */
    var numberButtons = numberCandidates(text.shown).map(function (c) {
      var button = el("button", { type: "button", class: "teach-num", "aria-pressed": "false", "data-value": c.text,
        onclick: function () { marks.amount = { start: c.start, end: c.end }; changed(); } }, c.text);
      numbers.appendChild(button);
      return { button: button, start: c.start, end: c.end };
    });
    function renderNumbers() {
      numberButtons.forEach(function (b) {
        var on = !!marks.amount && marks.amount.start === b.start && marks.amount.end === b.end;
        b.button.setAttribute("aria-pressed", String(on));
      });
    }
    function renderMarked() {
      clear(marked);
      var spans = [];
      if (marks.amount) spans.push({ start: marks.amount.start, end: marks.amount.end, cls: "mark-amount" });
      if (marks.sender) spans.push({ start: marks.sender.start, end: marks.sender.end, cls: "mark-sender" });
      spans.sort(function (a, b) { return a.start - b.start; });
      var at = 0;
      spans.forEach(function (s) {
        if (s.start < at) return;
        marked.appendChild(document.createTextNode(text.shown.slice(at, s.start)));
        marked.appendChild(el("mark", { class: s.cls, text: text.shown.slice(s.start, s.end) }));
        at = s.end;
      });
      marked.appendChild(document.createTextNode(text.shown.slice(at)));
    }
    function body() {
      var out = { amount_span: [text.toServer(marks.amount.start), text.toServer(marks.amount.end)] };
      if (marks.sender) out.sender_span = [text.toServer(marks.sender.start), text.toServer(marks.sender.end)];
      return out;
    }
    function check() {
      if (!marks.amount) { result.textContent = ""; return; }
      var mine = ++seq;
      clear(result).appendChild(el("span", { class: "muted", text: t("teach_checking") }));
      api("POST", "notifications/" + n.id + "/teach/preview", body()).then(function (res) {
        if (mine !== seq) return;
        var d = res.data;
        preview.amount = d.amount;
        clear(result);
        result.classList.remove("is-refused");
        append(result, [
          el("p", { class: "teach-reads", "data-testid": "teach-reads", text: d.sender_name ? t("teach_reads_from", { amount: WQ.rupiah(d.amount), sender: d.sender_name }) : t("teach_reads", { amount: WQ.rupiah(d.amount) }) }),
          el("div", { class: "muted small", text: t("teach_wording") + ":" }),
          el("code", { class: "teach-wording break", text: d.wording })]);
        renderInvoices();
      }, function (err) {
        if (mine !== seq) return;
        preview.amount = null;
        result.classList.add("is-refused");
        clear(result).appendChild(el("p", { class: "form-error", "data-testid": "teach-refused", text: teachErrorText(err) }));
        renderInvoices();
      });
    }
    function renderInvoices() {
      clear(invoiceBox).appendChild(el("legend", { text: t("teach_pay_which") }));
      var sorted = invoices.slice().sort(function (a, b) {
        return Math.abs(a.total_amount - (preview.amount || 0)) - Math.abs(b.total_amount - (preview.amount || 0));
      }).slice(0, 6);
      var exact = sorted.filter(function (p) { return p.total_amount === preview.amount; });
      var selected = chosenInvoice !== null ? chosenInvoice : (exact.length === 1 ? exact[0].invoice_id : "");
      sorted.forEach(function (p, i) {
        var id = "teach-inv-" + i;
        var input = el("input", { type: "radio", name: "teach-invoice", id: id, value: p.invoice_id, onchange: function () { chosenInvoice = p.invoice_id; updateConfirm(); } });
        input.checked = selected === p.invoice_id;
        invoiceBox.appendChild(el("div", { class: "teach-invoice" + (p.total_amount === preview.amount ? " is-exact" : "") }, input,
          el("label", { for: id }, el("span", { class: "candidate-id", text: p.invoice_id }), " ",
            el("span", { class: "money", text: WQ.rupiah(p.total_amount) }), " ", statusBadge(p.status),
            p.total_amount === preview.amount ? el("span", { class: "badge badge-ok", text: t("attach_exact") }) : null)));
      });
      var none = el("input", { type: "radio", name: "teach-invoice", id: "teach-inv-none", value: "", onchange: function () { chosenInvoice = ""; updateConfirm(); } });
      none.checked = selected === "";
      invoiceBox.appendChild(el("div", { class: "teach-invoice" }, none, el("label", { for: "teach-inv-none", text: t("teach_pay_none") })));
      updateConfirm();
    }
    function currentInvoice() {
      var checked = invoiceBox.querySelector("input:checked");
      return checked ? checked.value : "";
    }
    function updateConfirm() {
      if (!confirmLabel) confirmLabel = document.querySelector("#dialog [data-testid=dialog-confirm]");
      if (confirmLabel) confirmLabel.textContent = currentInvoice() ? t("teach_ok_pay") : t("teach_ok");
    }

    payableInvoices(n.merchant_id).then(function (all) { invoices = all; renderInvoices(); },
      function () { invoices = []; renderInvoices(); });
    renderNumbers();
    renderMarked();

    var teachBody = [
      el("p", { id: "teach-intro", text: t("teach_intro") }),
      el("div", { class: "field" }, el("label", { for: "teach-text", text: t("teach_text") }), area),
      el("div", { class: "teach-tools" },
        el("button", { type: "button", class: "btn btn-quiet btn-sm", id: "teach-mark-amount", onclick: function () { markFromSelection("amount"); } }, t("teach_mark_amount")),
        el("button", { type: "button", class: "btn btn-quiet btn-sm", id: "teach-mark-sender", onclick: function () { markFromSelection("sender"); } }, t("teach_mark_sender")),
        el("button", { type: "button", class: "btn btn-quiet btn-sm", id: "teach-clear-sender", onclick: function () { marks.sender = null; changed(); } }, t("teach_clear_sender"))),
      el("div", { class: "muted small", text: t("teach_numbers") }), numbers,
      marked, result, invoiceBox];

    return openDialog({
      title: t("teach_title"), body: teachBody, confirmText: t("teach_ok"),
      action: function () {
        if (!marks.amount) throw new ApiError(t("teach_need_amount"), 400, null);
        var invoiceId = currentInvoice() || null;
        var payload = body();
        if (invoiceId) payload.invoice_id = invoiceId;
        return sendWithPayAnyway(function (confirm) {
          return api("POST", "notifications/" + n.id + "/teach", Object.assign({ confirm_amount_mismatch: confirm }, payload));
        }, invoiceId).catch(function (err) {
          throw new ApiError(teachErrorText(err), err.status, null);
        });
      }
    }).then(settlePayAnyway);
  }

  function trustDialog(n) {
    var app = methodName(n.app);
    var merchant = n.merchant_name || "";
    return openDialog({
      title: t("trust_title", { app: app === n.app ? app : app + " (" + n.app + ")", merchant: merchant }),
      body: [el("p", { text: t("trust_body", { app: app, merchant: merchant }) }),
        el("p", { class: "muted small", text: t("trust_note") })],
      confirmText: t("trust_ok"),
      action: function () { return api("POST", "notifications/" + n.id + "/trust-app"); }
    }).then(function (result) {
      if (result) toast(t("trusted_toast", { app: app, merchant: merchant }), "ok");
      return result;
    });
  }

  /* ====================================================================================== */
  /* Notifications                                                                          */
  /* ====================================================================================== */
  var notifFilters = { outcome: "", merchant_id: "" };

  function notificationItem(n, opts) {
    opts = opts || {};
    var needs = (n.outcome === "unmatched" || n.outcome === "unparsed") && !n.attached_at;
    var title = [n.title, n.message].filter(Boolean);
    var source = n.source === "callback" ? t("source_callback") : n.app ? methodName(n.app) : t("source_forwarder");
    var linkTo = null;
    if (n.invoice_id) {
      var label = n.attached_at ? t("attached_to", { invoice: n.invoice_id }) : t("matched_to", { invoice: n.invoice_id });
      linkTo = el("a", { class: "notif-invoice", href: "#/payments/" + encodeURIComponent(n.invoice_id), text: label });
    }
    var item = el("li", { class: "notif oc-row-" + n.outcome + (needs ? " needs-attention" : "") + (n.attached_at ? " is-attached" : ""), "data-id": String(n.id), "data-outcome": n.outcome },
      el("div", { class: "notif-main" },
        el("div", { class: "notif-top" },
          outcomeBadge(n.outcome),
          n.attached_at ? el("span", { class: "badge st-paid", text: t("st_paid") }) : null,
          el("span", { class: "notif-source", text: source }),
          opts.compact ? null : el("span", { class: "notif-merchant", text: n.merchant_name || "" }),
          el("time", { class: "notif-time", datetime: n.received_at, text: WQ.dateTime(n.received_at, true) })),
        title.length ? el("div", { class: "notif-text" }, n.title ? el("strong", { text: n.title + " " }) : null, n.message ? el("span", { text: n.message }) : null) : null,
        el("div", { class: "notif-facts" },
          n.parsed_amount !== null && n.parsed_amount !== undefined
            ? el("span", { class: "notif-amount money", text: WQ.rupiah(n.parsed_amount) })
            : n.outcome === "test" ? null : el("span", { class: "notif-amount muted", text: t("not_parsed") }),
          n.app_not_accepted ? el("span", { class: "badge badge-warn", "data-testid": "app-not-accepted", text: t("app_not_accepted") }) : null,
          n.sender_name ? el("span", { text: t("from_sender", { name: n.sender_name }) }) : null,
          n.device_id ? el("span", { class: "muted", text: t("device") + " " + n.device_id }) : null,
          n.reference ? el("span", { class: "muted", text: "ref " + n.reference }) : null,
          n.duplicate_of ? el("span", { class: "muted", text: t("duplicate_of", { id: n.duplicate_of }) }) : null,
          linkTo)),
      needs && opts.onAttach ? el("div", { class: "notif-actions" },
        n.outcome === "unparsed" && n.source === "forwarder" && (n.title || n.message) && opts.onTeach
          ? el("button", { type: "button", class: "btn btn-quiet btn-sm teach-btn", onclick: function () { opts.onTeach(n); } }, t("teach")) : null,
        n.app_not_accepted && n.app && opts.onTrust
          ? el("button", { type: "button", class: "btn btn-quiet btn-sm trust-btn", onclick: function () { opts.onTrust(n); } }, t("trust_app")) : null,
        el("button", { type: "button", class: "btn btn-primary btn-sm attach-btn", onclick: function () { opts.onAttach(n); } }, t("attach"))) : null);
    return item;
  }

  function attachDialog(n) {
    var candidates = el("div", { class: "candidates" }, loadingBlock());
    var amountText = n.parsed_amount !== null && n.parsed_amount !== undefined ? WQ.rupiah(n.parsed_amount) : t("not_parsed");
    var intro = [el("p", { text: t("attach_body", { amount: amountText, sender: n.sender_name || t("unknown_sender") }) })];
    if (n.parsed_amount === null || n.parsed_amount === undefined) intro.push(el("p", { class: "callout callout-warn", text: t("attach_body_unparsed") }));
    if (n.message) intro.push(el("blockquote", { class: "quote", text: [n.title, n.message].filter(Boolean).join(" — ") }));
    return openDialog({
      title: t("attach_title"), body: intro,
      input: { label: t("attach_input"), placeholder: "INV-…" },
      extra: function (input) {
        payableInvoices(n.merchant_id).then(function (all) {
          all.sort(function (a, b) {
            var da = Math.abs(a.total_amount - (n.parsed_amount || 0)), db = Math.abs(b.total_amount - (n.parsed_amount || 0));
            return da - db;
          });
          clear(candidates);
          if (!all.length) { candidates.appendChild(el("p", { class: "muted small", text: t("attach_none") })); return; }
          candidates.appendChild(el("p", { class: "muted small", text: t("attach_candidates") }));
          var list = el("ul", { class: "candidate-list" });
          all.slice(0, 8).forEach(function (p) {
            var exact = n.parsed_amount === p.total_amount;
            list.appendChild(el("li", null, el("button", { type: "button", class: "candidate" + (exact ? " is-exact" : ""), onclick: function () { input.value = p.invoice_id; input.focus(); } },
              el("span", { class: "candidate-id", text: p.invoice_id }),
              el("span", { class: "money", text: WQ.rupiah(p.total_amount) }),
              statusBadge(p.status),
              exact ? el("span", { class: "badge badge-ok", text: t("attach_exact") }) : null)));
          });
          candidates.appendChild(list);
        }, function () { clear(candidates); });
        return candidates;
      },
      confirmText: t("attach_ok"),
      action: function (invoiceId) {
        if (!invoiceId) throw new ApiError(t("invoice_required"), 400, null);
        return sendWithPayAnyway(function (confirm) {
          return api("POST", "notifications/" + n.id + "/attach", { invoice_id: invoiceId, confirm_amount_mismatch: confirm });
        }, invoiceId);
      }
    }).then(settlePayAnyway);
  }

  function viewNotifications(container) {
    var alive = true;
    var rows = [];
    var nextBefore = null;
    if (location.hash.indexOf("needs_attention") >= 0) notifFilters.outcome = "needs_attention";
    var outcomes = ["", "needs_attention", "unmatched", "unparsed", "matched", "duplicate", "test"];
    var chips = el("div", { class: "chips", role: "group", "aria-label": t("outcome") });
    function renderChips() {
      clear(chips);
      outcomes.forEach(function (o) {
        var label = o ? t("oc_" + o) : t("all");
        var chip = el("button", { type: "button", class: "chip" + (o === "needs_attention" && S.attention ? " chip-alert" : ""), "aria-pressed": String(notifFilters.outcome === o), "data-outcome": o },
          el("span", { text: label }), o === "needs_attention" && S.attention ? el("span", { class: "chip-count", text: String(S.attention) }) : null);
        chip.addEventListener("click", function () { notifFilters.outcome = o; renderChips(); load(); });
        chips.appendChild(chip);
      });
    }
    renderChips();
    var list = el("div", { class: "results" }, loadingBlock());
    var more = el("div", { class: "more" });
    append(container, [
      pageHeader(t("notif_title"), null, t("notif_intro")),
      el("div", { class: "filters filters-inline" }, chips,
        field(t("merchant"), merchantSelect("nf-merchant", notifFilters.merchant_id, function (v) { notifFilters.merchant_id = v; load(); }), "nf-merchant")),
      list, more]);

    function params(before) {
      return { outcome: notifFilters.outcome, merchant_id: notifFilters.merchant_id, before: before || "", limit: 50 };
    }
    function load() {
      return api("GET", "notifications" + qs(params())).then(function (body) {
        if (!alive) return;
        rows = body.data;
        nextBefore = body.next_before;
        render();
      }, function (err) {
        if (alive) clear(list).appendChild(errorBlock(err, load));
      });
    }
    function loadMore() {
      api("GET", "notifications" + qs(params(nextBefore))).then(function (body) {
        if (!alive) return;
        rows = rows.concat(body.data);
        nextBefore = body.next_before;
        render();
      }, function (err) { toast(errorText(err), "error"); });
    }
    function render() {
      clear(list);
      clear(more);
      if (!rows.length) { list.appendChild(el("div", { class: "empty-state", text: t("no_notifs") })); return; }
      list.appendChild(el("ul", { class: "notif-list" }, rows.map(function (n) { return notificationItem(n, { onAttach: attach, onTeach: teach, onTrust: trust }); })));
      if (nextBefore) more.appendChild(el("button", { type: "button", class: "btn btn-quiet", onclick: loadMore }, t("load_more")));
    }
    function attach(n) {
      attachDialog(n).then(function (result) {
        if (!result) return;
        toast(t("attached_toast", { invoice: result.invoiceId }), "ok");
        refreshAttention();
        load();
      });
    }
    function teach(n) {
      teachDialog(n).then(function (result) {
        if (!result) return;
        toast(result.invoiceId ? t("teach_saved_paid", { invoice: result.invoiceId }) : t("teach_saved"), "ok");
        refreshAttention();
        load();
      });
    }
    function trust(n) {
      trustDialog(n).then(function (result) { if (result) load(); });
    }
    var reload = debounce(load, 300);
    var poll = setInterval(function () { if (!document.hidden && !dialogOpen) load(); }, 15000);
    load();
    return {
      onEvent: function () { reload(); },
      onAttention: function () { renderChips(); },
      refresh: load,
      destroy: function () { alive = false; clearInterval(poll); reload.cancel(); }
    };
  }

  /* ====================================================================================== */
  /* Webhook deliveries                                                                     */
  /* ====================================================================================== */
  function attemptsTable(attempts) {
    if (!attempts.length) return el("p", { class: "muted small", text: t("no_attempts") });
    return el("table", { class: "table table-attempts" },
      el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "#" }), el("th", { scope: "col", text: t("attempt_time") }),
        el("th", { scope: "col", text: t("attempt_status") }), el("th", { scope: "col", text: t("attempt_duration") }),
        el("th", { scope: "col", text: t("attempt_error") }))),
      el("tbody", null, attempts.map(function (a, i) {
        var ok = a.status_code && a.status_code >= 200 && a.status_code < 300 && !a.error;
        return el("tr", { class: ok ? "attempt-ok" : "attempt-bad" },
          el("td", { "data-label": "#", text: String(i + 1) }),
          el("td", { "data-label": t("attempt_time"), text: WQ.dateTime(a.attempted_at, true) }),
          el("td", { "data-label": t("attempt_status") }, el("span", { class: "badge " + (ok ? "ds-delivered" : "ds-failed"), text: a.status_code ? String(a.status_code) : "—" })),
          el("td", { "data-label": t("attempt_duration"), text: a.duration_ms !== null && a.duration_ms !== undefined ? a.duration_ms + " ms" : t("none") }),
          el("td", { "data-label": t("attempt_error"), class: "wrap" }, el("code", { class: "excerpt", text: a.error || a.response_excerpt || "" })));
      })));
  }

  function prettyJson(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function deliveryCard(d, opts) {
    opts = opts || {};
    var attemptsBox = el("div", { class: "attempts", hidden: !opts.open });
    var toggle = null;
    if (opts.attempts) attemptsBox.appendChild(attemptsTable(opts.attempts));
    else {
      toggle = el("button", { type: "button", class: "btn btn-quiet btn-sm", "aria-expanded": "false" }, t("show_attempts", { n: d.attempts }));
      toggle.addEventListener("click", function () {
        var open = attemptsBox.hidden;
        attemptsBox.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        toggle.textContent = open ? t("hide_attempts") : t("show_attempts", { n: d.attempts });
        if (open) {
          clear(attemptsBox).appendChild(loadingBlock());
          api("GET", "webhooks/" + d.id + "/attempts").then(function (body) {
            clear(attemptsBox).appendChild(attemptsTable(body.data));
          }, function (err) { clear(attemptsBox).appendChild(errorBlock(err)); });
        }
      });
    }
    var redeliverButton = el("button", { type: "button", class: "btn btn-quiet btn-sm redeliver-btn", disabled: d.state === "sending" || d.state === "pending" }, t("redeliver"));
    redeliverButton.addEventListener("click", function () {
      openDialog({
        title: t("redeliver_title"), body: el("p", { text: t("redeliver_body", { url: d.url }) }), confirmText: t("redeliver"),
        action: function () { return api("POST", "webhooks/" + d.id + "/redeliver"); }
      }).then(function (result) {
        if (!result) return;
        toast(t("redelivered"), "ok");
        if (opts.onChange) opts.onChange();
      });
    });
    var isTest = d.event && d.event.indexOf("test") >= 0;
    var badge = stateBadge(d.state);
    var lastError = d.last_error && d.state !== "delivered" ? el("span", { class: "error-text", text: t("last_error") + ": " + d.last_error }) : null;
    // The seed's receivers (its PHP and Express snippets) check the signature first and only
    // then answer 400 "Invalid event" to an event they do not handle, such as this test.
    if (isTest && d.state === "failed" && d.last_status_code === 400) {
      api("GET", "webhooks/" + d.id + "/attempts").then(function (body) {
        var last = body.data[body.data.length - 1];
        if (!last || !/invalid event/i.test(last.response_excerpt || "")) return;
        badge.className = "badge badge-ok test-signature-ok";
        badge.textContent = t("test_sig_ok_badge");
        lastError.className = "test-signature-note";
        lastError.textContent = t("test_sig_ok");
      }, function () { /* the card keeps saying what the server recorded */ });
    }
    return el("article", { class: "delivery ds-row-" + d.state, "data-id": String(d.id), "data-state": d.state },
      el("div", { class: "delivery-head" },
        badge,
        el("span", { class: "delivery-event" }, el("code", { text: d.event }), isTest ? el("span", { class: "badge", text: t("test_event") }) : null),
        d.invoice_id && !opts.attempts ? el("a", { href: "#/payments/" + encodeURIComponent(d.invoice_id), text: d.invoice_id }) : null,
        el("span", { class: "delivery-merchant muted", text: d.merchant_name }),
        el("time", { class: "delivery-time muted", datetime: d.created_at, text: WQ.dateTime(d.created_at, true) })),
      el("div", { class: "delivery-url" }, el("span", { class: "muted", text: t("wh_url") + " " }), el("code", { text: d.url || "–" })),
      el("div", { class: "delivery-facts" },
        el("span", { text: t("attempts") + ": " + d.attempts }),
        d.last_status_code ? el("span", { text: "HTTP " + d.last_status_code }) : null,
        d.delivered_at ? el("span", { text: t("delivered_at") + " " + WQ.dateTime(d.delivered_at, true) }) : null,
        d.next_attempt_at ? el("span", { text: t("next_attempt") + " " + WQ.timeOnly(d.next_attempt_at) }) : null,
        lastError),
      el("div", { class: "delivery-actions" }, toggle, redeliverButton),
      d.body ? el("details", { class: "delivery-body" }, el("summary", { text: t("payload") }), el("pre", { text: prettyJson(d.body) })) : null,
      attemptsBox);
  }

  var webhookFilters = { state: "", merchant_id: "" };
  function viewWebhooks(container) {
    var alive = true;
    var rows = [];
    var nextBefore = null;
    var stateSelect = el("select", { id: "wf-state" }, el("option", { value: "", text: t("all") }),
      ["pending", "sending", "delivered", "failed"].map(function (s) { return el("option", { value: s, text: t("ds_" + s) }); }));
    stateSelect.value = webhookFilters.state;
    stateSelect.addEventListener("change", function () { webhookFilters.state = stateSelect.value; load(); });
    var list = el("div", { class: "results" }, loadingBlock());
    var more = el("div", { class: "more" });
    append(container, [
      pageHeader(t("wh_title"), null, t("wh_intro")),
      el("div", { class: "filters filters-2" }, field(t("state"), stateSelect, "wf-state"),
        field(t("merchant"), merchantSelect("wf-merchant", webhookFilters.merchant_id, function (v) { webhookFilters.merchant_id = v; load(); }), "wf-merchant")),
      list, more]);
    function params(before) { return { state: webhookFilters.state, merchant_id: webhookFilters.merchant_id, before: before || "", limit: 50 }; }
    function load() {
      return api("GET", "webhooks" + qs(params())).then(function (body) {
        if (!alive) return;
        rows = body.data;
        nextBefore = body.next_before;
        render();
      }, function (err) { if (alive) clear(list).appendChild(errorBlock(err, load)); });
    }
    function loadMore() {
      api("GET", "webhooks" + qs(params(nextBefore))).then(function (body) {
        if (!alive) return;
        rows = rows.concat(body.data);
        nextBefore = body.next_before;
        render();
      }, function (err) { toast(errorText(err), "error"); });
    }
    function render() {
      clear(list);
      clear(more);
      if (!rows.length) { list.appendChild(el("div", { class: "empty-state", text: t("no_webhooks") })); return; }
      list.appendChild(el("div", { class: "deliveries" }, rows.map(function (d) { return deliveryCard(d, { onChange: load }); })));
      if (nextBefore) more.appendChild(el("button", { type: "button", class: "btn btn-quiet", onclick: loadMore }, t("load_more")));
    }
    var reload = debounce(load, 400);
    // Retries happen in the background without an event: look again while any is in flight.
    var poll = setInterval(function () {
      if (!document.hidden && rows.some(function (d) { return d.state === "pending" || d.state === "sending"; })) load();
    }, 5000);
    load();
    return {
      onEvent: function (event) { if (event.event === "webhook_delivered" || event.event === "payment_paid") reload(); },
      refresh: load,
      destroy: function () { alive = false; clearInterval(poll); reload.cancel(); }
    };
  }

  /* ====================================================================================== */
  /* Audit log                                                                              */
  /* ====================================================================================== */
  function viewAudit(container) {
    var alive = true;
    var rows = [];
    var nextBefore = null;
    var list = el("div", { class: "results" }, loadingBlock());
    var more = el("div", { class: "more" });
    append(container, [pageHeader(t("au_title"), null, t("au_intro")), list, more]);
    function load(before) {
      return api("GET", "audit" + qs({ before: before || "", limit: 50 })).then(function (body) {
        if (!alive) return;
        rows = before ? rows.concat(body.data) : body.data;
        nextBefore = body.next_before;
        render();
      }, function (err) {
        if (!alive) return;
        if (before) toast(errorText(err), "error"); else clear(list).appendChild(errorBlock(err, function () { load(); }));
      });
    }
    function render() {
      clear(list);
      clear(more);
      if (!rows.length) { list.appendChild(el("div", { class: "empty-state", text: t("no_audit") })); return; }
      list.appendChild(el("ol", { class: "audit-list" }, rows.map(auditEntry)));
      if (nextBefore) more.appendChild(el("button", { type: "button", class: "btn btn-quiet", onclick: function () { load(nextBefore); } }, t("load_more")));
    }
    load();
    return { refresh: function () { load(); }, destroy: function () { alive = false; } };
  }

  function auditTarget(target) {
    var merchant = /^merchant:(\d+)$/.exec(target);
    if (merchant) return el("a", { href: "#/merchants/" + merchant[1], text: "Merchant #" + merchant[1] });
    var delivery = /^delivery:(\d+)$/.exec(target);
    if (delivery) return el("span", { text: t("au_delivery", { id: delivery[1] }) });
    if (target && target.indexOf("INV-") === 0) return el("a", { href: "#/payments/" + encodeURIComponent(target), text: target });
    return null;
  }

  function auditValue(value) {
    if (value === null || value === undefined || value === "") return "–";
    var text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > 48 ? text.slice(0, 47) + "…" : text;
  }

  function auditChanges(before, after) {
    before = before || {};
    after = after || {};
    var keys = Object.keys(after).concat(Object.keys(before).filter(function (k) { return !(k in after); }));
    return keys.map(function (key) {
      var change = key in before ? auditValue(before[key]) + " → " + auditValue(after[key]) : auditValue(after[key]);
      return el("li", null, el("code", { text: key }), " " + change);
    });
  }

  function auditEntry(entry) {
    var label = t("a_" + entry.action);
    var target = auditTarget(entry.target);
    var changes = auditChanges(entry.before, entry.after);
    return el("li", { class: "audit-entry", "data-action": entry.action },
      el("time", { class: "audit-time", datetime: entry.at, text: WQ.dateTime(entry.at, true) }),
      el("div", { class: "audit-main" },
        el("div", { class: "audit-what" }, el("strong", { text: label === "a_" + entry.action ? entry.action : label }), target ? " · " : null, target),
        changes.length ? el("ul", { class: "audit-changes" }, changes) : null,
        entry.address ? el("div", { class: "audit-address", text: t("from_address", { address: entry.address }) }) : null));
  }

  /* ====================================================================================== */
  /* Merchants                                                                              */
  /* ====================================================================================== */
  var SECRET_KINDS = ["api_token", "callback_secret", "webhook_secret"];

  function viewMerchants(container) {
    var alive = true;
    var list = el("div", { class: "merchant-list" }, loadingBlock());
    append(container, [
      pageHeader(t("m_title"), el("a", { class: "btn btn-primary", href: "#/merchants/new", id: "new-merchant" }, icon("plus"), el("span", { text: t("m_new") }))),
      list]);

    function load() {
      return Promise.all([loadMerchants(true), api("GET", "wordings")]).then(function (results) {
        var merchants = results[0], wordings = results[1].data;
        if (!alive) return;
        clear(list);
        if (!merchants.length) { list.appendChild(el("div", { class: "empty-state", text: t("m_none") })); return; }
        merchants.forEach(function (m) {
          list.appendChild(merchantCard(m, wordings.filter(function (w) { return w.merchant_id === m.id; })));
        });
      }, function (err) { if (alive) clear(list).appendChild(errorBlock(err, load)); });
    }

    function wordingList(wordings) {
      if (!wordings.length) return el("p", { class: "muted small", text: t("m_wordings_none") });
      return el("ul", { class: "wordings" }, wordings.map(function (w) {
        return el("li", { class: "wording", "data-wording-id": String(w.id) },
          el("code", { class: "wording-text break", text: w.wording }),
          el("div", { class: "small muted" }, el("span", { text: w.app ? t("m_wording_app", { app: methodName(w.app) }) : t("m_wording_no_app") }),
            " · ", el("time", { datetime: w.created_at, text: WQ.dateTime(w.created_at) })),
          el("button", { type: "button", class: "btn btn-danger-quiet btn-sm wording-delete", "aria-label": t("m_wording_delete") + ": " + w.wording,
            onclick: function () { deleteWording(w); } }, t("m_wording_delete")));
      }));
    }

    function deleteWording(w) {
      openDialog({
        title: t("wording_delete_title"), danger: true,
        body: [el("blockquote", { class: "quote", text: w.wording }), el("p", { text: t("wording_delete_body") })],
        confirmText: t("m_wording_delete"),
        action: function () { return api("DELETE", "wordings/" + w.id); }
      }).then(function (result) {
        if (!result) return;
        toast(t("wording_deleted"), "ok");
        if (alive) load();
      });
    }

    function merchantCard(m, wordings) {
      var q = m.qris;
      var qrisBlock = q
        ? el("div", { class: "qris-decoded" }, el("span", { class: "badge badge-ok", text: t("m_qris_valid") }),
          el("span", { text: q.merchant_name }), el("span", { class: "muted", text: q.merchant_city }),
          q.nmid ? el("span", { class: "muted small", text: t("m_nmid") + " " + q.nmid }) : null)
        : el("div", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("m_qris_missing") }));

      var devices = m.devices.length ? el("ul", { class: "devices" }, m.devices.map(function (d) {
        var last = [d.last_notification_at, d.last_test_at].filter(Boolean).sort().pop();
        return el("li", { class: "device" + (d.silent ? " is-silent" : ""), "data-device": d.device_id },
          icon(d.silent ? "warn" : "phone"),
          el("div", { class: "device-body" },
            el("div", { class: "device-id" }, el("strong", { text: d.device_id })),
            el("div", { class: "small" }, el("span", { text: t("last_heard", { when: last ? WQ.relative(last) : t("never_heard") }) }),
              last ? el("span", { class: "muted", text: " (" + WQ.dateTime(last) + ")" }) : null),
            el("div", { class: "small muted", text: [d.last_app ? t("last_app", { app: methodName(d.last_app) }) : null,
              d.last_test_at ? t("last_test", { when: WQ.relative(d.last_test_at) }) : null].filter(Boolean).join(" · ") }),
            d.silent ? el("div", { class: "device-warning", role: "note", text: t("silent_warning") }) : null));
      })) : el("p", { class: "muted small", text: t("m_no_phones") });

      var fw = m.forwarder || {};
      var forwarder = el("details", { class: "forwarder" },
        el("summary", { text: t("m_forwarder") }),
        copyField(t("fw_url"), fw.url || ""),
        copyField(t("fw_header"), fw.header || ""),
        copyField(t("fw_callback"), fw.callback_url || ""),
        copyField(t("fw_test"), JSON.stringify(fw.test_body || {})),
        el("p", { class: "muted small", text: t("fw_note") }));

      var testButton = el("button", { type: "button", class: "btn btn-quiet btn-sm", disabled: !m.webhook_url, title: m.webhook_url ? null : t("m_test_needs_url") }, t("m_test_webhook"));
      testButton.addEventListener("click", function () {
        testButton.disabled = true;
        api("POST", "merchants/" + m.id + "/test-webhook").then(function () { toast(t("m_test_sent"), "ok"); },
          function (err) { toast(errorText(err), "error"); }).then(function () { testButton.disabled = false; });
      });

      var rotate = el("div", { class: "rotate" }, el("span", { class: "muted small", text: t("m_rotate") + ":" }),
        SECRET_KINDS.map(function (kind) {
          return el("button", { type: "button", class: "btn btn-quiet btn-sm", "data-rotate": kind, onclick: function () { rotateSecret(m, kind); } }, t("rot_" + kind));
        }));

      return el("article", { class: "panel merchant", "data-merchant-id": String(m.id) },
        el("div", { class: "merchant-head" },
          el("div", null, el("h2", { text: m.name }), el("div", { class: "muted small", text: "ID " + m.id })),
          el("a", { class: "btn btn-quiet btn-sm", href: "#/merchants/" + m.id }, t("edit"))),
        qrisBlock,
        el("div", { class: "merchant-row", "data-testid": "accepted-apps" }, el("span", { class: "muted", text: t("m_apps") + ": " }),
          m.accept_any_app ? el("span", { class: "badge badge-warn", text: t("m_apps_any") })
            : el("span", { class: "break", text: [t("m_apps_payment")].concat(m.accepted_apps, m.accept_unnamed_app ? [t("m_apps_unnamed")] : []).join(" + ") })),
        el("div", { class: "merchant-row" }, el("span", { class: "muted", text: t("m_webhook") + ": " }),
          m.webhook_url ? el("code", { class: "break", text: m.webhook_url }) : el("span", { class: "muted", text: t("m_webhook_none") })),
        el("div", { class: "merchant-actions" }, testButton, rotate),
        m.previous_webhook_secret_until ? el("p", { class: "muted small", "data-testid": "previous-webhook-secret",
          text: t("m_previous_secret", { time: WQ.dateTime(m.previous_webhook_secret_until) }) }) : null,
        el("h3", { text: t("m_phones") }), devices,
        el("h3", { text: t("m_wordings") }), wordingList(wordings),
        forwarder);
    }

    function rotateSecret(m, kind) {
      openDialog({
        title: t("rotate_title", { secret: t("rot_" + kind) }), danger: true,
        body: el("p", { text: kind === "webhook_secret" && S.secretOverlap > 0 ? t("rotate_body_webhook_secret")
          : t("rotate_body", { where: t("where_" + kind) }) }),
        confirmText: t("rotate_ok"),
        action: function () { return api("POST", "merchants/" + m.id + "/rotate", { secret: kind }); }
      }).then(function (result) {
        if (!result || !result.value) return;
        showSecrets(null, m.name + " · " + t("rot_" + kind), [{ key: kind, label: t("rot_" + kind), value: result.value }])
          .then(function () { if (alive) load(); });
      });
    }

    load();
    return { refresh: load, destroy: function () { alive = false; } };
  }

  function viewMerchantForm(container, params) {
    var alive = true;
    var creating = params[0] === "new";
    var merchantId = creating ? null : Number(params[0]);
    var original = null;
    var body = el("div", null, loadingBlock());
    append(container, [
      el("a", { class: "back-link", href: "#/merchants" }, icon("back"), el("span", { text: t("m_title") })),
      pageHeader(creating ? t("m_new") : t("m_edit")), body]);

    var nameInput = el("input", { id: "m-name", type: "text", maxlength: "100", autocomplete: "organization", required: true });
    var qrisInput = el("textarea", { id: "m-qris", rows: "4", spellcheck: "false", autocomplete: "off", placeholder: "000201010211…", "aria-describedby": "m-qris-help m-qris-status" });
    var urlInput = el("input", { id: "m-webhook", type: "url", inputmode: "url", placeholder: "https://toko.example/webhook/qris", autocomplete: "off", "aria-describedby": "m-webhook-help" });
    var appsInput = el("input", { id: "m-apps", type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "none", placeholder: "id.dana, com.gojek.gopaymerchant", "aria-describedby": "m-apps-help m-apps-seen" });
    var appsSeen = el("p", { class: "help", id: "m-apps-seen" });
    var anyAppInput = el("input", { id: "m-any-app", type: "checkbox", "aria-describedby": "m-any-app-help" });
    var unnamedAppInput = el("input", { id: "m-unnamed-app", type: "checkbox", "aria-describedby": "m-unnamed-app-help" });
    function checkbox(input, label, help) {
      return el("div", { class: "field field-check" },
        el("label", { for: input.id }, input, el("span", { text: t(label) })),
        el("p", { class: "help", id: input.id + "-help", text: t(help) }));
    }
    var qrisStatus = el("div", { id: "m-qris-status", class: "qris-status", "aria-live": "polite" });
    var preview = el("div", { class: "qris-preview", id: "m-qris-preview" });
    var formError = el("p", { class: "form-error", role: "alert", hidden: true });
    var saveButton = el("button", { type: "submit", class: "btn btn-primary", id: "m-save" }, creating ? t("m_new") : t("save"));
    var previewSeq = 0;
    var side = el("aside", { class: "form-side is-empty" }, el("h3", { text: t("m_preview") }), preview);

    function renderPreviewEmpty() {
      side.classList.add("is-empty");
      clear(preview).appendChild(el("div", { class: "qris-preview-empty muted small", text: t("m_preview_empty") }));
      clear(qrisStatus);
    }

    var checkQris = debounce(function () {
      var payload = qrisInput.value.trim();
      var seq = ++previewSeq;
      if (!payload) { renderPreviewEmpty(); qrisInput.removeAttribute("aria-invalid"); return; }
      clear(qrisStatus).appendChild(el("span", { class: "muted", text: t("m_qris_checking") }));
      api("POST", "qris/preview", { payload: payload }).then(function (res) {
        if (!alive || seq !== previewSeq) return;
        clear(qrisStatus);
        clear(preview);
        side.classList.toggle("is-empty", !res.valid);
        if (res.valid) {
          qrisInput.setAttribute("aria-invalid", "false");
          qrisStatus.appendChild(el("div", { class: "qris-ok", "data-testid": "qris-ok" }, icon("check"),
            el("span", { text: t("m_qris_decoded", { name: res.merchant_name, city: res.merchant_city }) })));
          append(preview, [
            el("div", { class: "qris-preview-svg", html: res.svg }), // server-made segno SVG
            el("dl", { class: "facts facts-tight" },
              el("dt", { text: t("merchant") }), el("dd", { class: "decoded-name", text: res.merchant_name }),
              el("dt", { text: t("m_city") }), el("dd", { text: res.merchant_city }),
              res.nmid ? el("dt", { text: t("m_nmid") }) : null, res.nmid ? el("dd", { text: res.nmid }) : null)]);
        } else {
          qrisInput.setAttribute("aria-invalid", "true");
          qrisStatus.appendChild(el("div", { class: "qris-error", "data-testid": "qris-error", role: "alert" }, icon("warn"), el("span", { text: problemText(res.error, res.error_code, res.error_details) })));
          preview.appendChild(el("div", { class: "qris-preview-empty muted small", text: t("m_preview_empty") }));
        }
      }, function (err) {
        if (!alive || seq !== previewSeq) return;
        clear(qrisStatus).appendChild(el("div", { class: "qris-error", role: "alert", text: errorText(err) }));
      });
    }, 300);
    qrisInput.addEventListener("input", checkQris);

    var form = el("form", { class: "panel merchant-form", novalidate: true },
      el("div", { class: "form-grid" },
        el("div", { class: "form-main" },
          field(t("m_name"), nameInput, "m-name"),
          el("div", { class: "field" },
            el("label", { for: "m-qris", text: t("m_qris") }), qrisInput,
            el("p", { class: "help", id: "m-qris-help", text: t("m_qris_help") }), qrisStatus),
          el("div", { class: "field" },
            el("label", { for: "m-webhook", text: t("m_webhook") }), urlInput,
            el("p", { class: "help", id: "m-webhook-help", text: t("m_webhook_help") })),
          el("div", { class: "field" },
            el("label", { for: "m-apps", text: t("m_apps_extra") }), appsInput,
            el("p", { class: "help", id: "m-apps-help", text: t("m_apps_help") }), appsSeen),
          checkbox(unnamedAppInput, "m_unnamed_app", "m_unnamed_app_help"),
          checkbox(anyAppInput, "m_any_app", "m_any_app_help")),
        side),
      formError,
      el("div", { class: "form-actions" }, el("a", { class: "btn btn-quiet", href: "#/merchants" }, t("cancel")), saveButton));

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      formError.hidden = true;
      var name = nameInput.value.trim();
      if (!name) { formError.textContent = t("name_required"); formError.hidden = false; nameInput.focus(); return; }
      var payload = {};
      var qrisValue = qrisInput.value.trim();
      var urlValue = urlInput.value.trim();
      var apps = appsInput.value.split(/[\s,]+/).filter(Boolean);
      if (creating) {
        payload.name = name;
        if (qrisValue) payload.static_qris = qrisValue;
        if (urlValue) payload.webhook_url = urlValue;
        if (apps.length) payload.accepted_apps = apps;
        if (anyAppInput.checked) payload.accept_any_app = true;
        if (unnamedAppInput.checked) payload.accept_unnamed_app = true;
      } else {
        if (name !== original.name) payload.name = name;
        if (qrisValue !== (original.static_qris || "")) payload.static_qris = qrisValue || null;
        if (urlValue !== (original.webhook_url || "")) payload.webhook_url = urlValue || null;
        if (apps.join(",") !== (original.accepted_apps || []).join(",")) payload.accepted_apps = apps;
        if (anyAppInput.checked !== original.accept_any_app) payload.accept_any_app = anyAppInput.checked;
        if (unnamedAppInput.checked !== original.accept_unnamed_app) payload.accept_unnamed_app = unnamedAppInput.checked;
      }
      saveButton.disabled = true;
      saveButton.textContent = t("saving");
      var request = creating ? api("POST", "merchants", payload) : api("PATCH", "merchants/" + merchantId, payload);
      request.then(function (res) {
        loadMerchants(true).catch(function () { return null; });
        if (!alive) return;
        if (creating) {
          toast(t("m_created", { name: res.data.name }), "ok");
          showCreated(res.data, res.secrets);
        } else {
          toast(t("m_saved"), "ok");
          location.hash = "#/merchants";
        }
      }, function (err) {
        formError.textContent = errorText(err);
        formError.hidden = false;
      }).then(function () {
        saveButton.disabled = false;
        saveButton.textContent = creating ? t("m_new") : t("save");
      });
    });

    function showCreated(merchant, secrets) {
      clear(body);
      append(body, el("section", { class: "panel created", id: "m-created" },
        el("h2", { text: t("m_secrets_created") }),
        merchant.qris ? el("div", { class: "qris-decoded" }, el("span", { class: "badge badge-ok", text: t("m_qris_valid") }),
          el("span", { class: "decoded-name", text: merchant.qris.merchant_name }), el("span", { class: "muted", text: merchant.qris.merchant_city })) : null,
        el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("secret_once_body") })),
        SECRET_KINDS.map(function (kind) { return copyField(t("rot_" + kind), secrets[kind], { secret: true, testid: "secret-" + kind }); }),
        el("div", { class: "form-actions" }, el("a", { class: "btn btn-primary", href: "#/merchants", id: "m-done" }, t("secret_saved")))));
    }

    function fill(m) {
      original = m;
      nameInput.value = m ? m.name : "";
      qrisInput.value = m && m.static_qris ? m.static_qris : "";
      urlInput.value = m && m.webhook_url ? m.webhook_url : "";
      appsInput.value = m && m.accepted_apps ? m.accepted_apps.join(", ") : "";
      anyAppInput.checked = Boolean(m && m.accept_any_app);
      unnamedAppInput.checked = Boolean(m && m.accept_unnamed_app);
      var seen = m ? m.devices.map(function (d) { return d.last_app; }).filter(function (app, i, all) { return app && all.indexOf(app) === i; }) : [];
      appsSeen.textContent = seen.length ? t("m_apps_seen", { apps: seen.join(", ") }) : "";
      appsSeen.hidden = !seen.length;
      clear(body).appendChild(form);
      if (qrisInput.value) checkQris(); else renderPreviewEmpty();
      nameInput.focus();
    }

    if (creating) fill(null);
    else {
      loadMerchants(true).then(function (list) {
        if (!alive) return;
        var m = list.filter(function (x) { return x.id === merchantId; })[0];
        if (!m) { clear(body).appendChild(el("div", { class: "empty-state", text: "404" })); return; }
        fill(m);
      }, function (err) { if (alive) clear(body).appendChild(errorBlock(err)); });
    }
    return { destroy: function () { alive = false; checkQris.cancel(); } };
  }

  /* ====================================================================================== */
  /* Boot                                                                                   */
  /* ====================================================================================== */
  function boot() {
    setupLogin();
    applyStaticText();
    WQ.onChange(function () {
      applyStaticText();
      if (S.loggedIn) route();
    });
    window.addEventListener("hashchange", route);
    // A browser that has not logged in here shows the form at once; the session cookie is
    // HttpOnly, so a marker in localStorage tells whether asking for the session is worth it.
    if (!hasMarker()) { showLogin(); return; }
    api("GET", "session").then(loggedIn, function (err) {
      if (err.status === 401) { setMarker(false); showLogin(); }
      else {
        showLogin();
        var error = $("login-error");
        error.textContent = errorText(err);
        error.hidden = false;
      }
    });
  }

  boot();
})();
