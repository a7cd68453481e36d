/* WebQRIS: what the dashboard's pages and the checkout page share. Language and formatting,
   DOM helpers, the admin API with its CSRF token, toasts and dialogs, the building blocks of a
   dashboard page, the one paged list and the live socket. An ES module with no dependencies and no build step. */

/* ====================================================================================== */
/* Language                                                                               */
/* Indonesian is the default; the choice is kept in localStorage. Each page keeps its own */
/* strings in both languages next to its code; the words every page uses stand below.     */
/* ====================================================================================== */
var STORAGE_KEY = "webqris.lang";
var LANGS = ["id", "en"];
var langListeners = [];

function storedLang() {
  try {
    var value = window.localStorage.getItem(STORAGE_KEY);
    return LANGS.indexOf(value) >= 0 ? value : "id";
  } catch (e) {
    return "id";
  }
}

var current = storedLang();
document.documentElement.lang = current;

export function lang() { return current; }

export function locale() {
  return current === "id" ? "id-ID" : "en-GB";
}

export function setLang(value) {
  if (LANGS.indexOf(value) < 0 || value === current) return;
  current = value;
  try {
    window.localStorage.setItem(STORAGE_KEY, value);
  } catch (e) { /* private mode: the choice lasts for this page only */ }
  document.documentElement.lang = value;
  langListeners.forEach(function (fn) { fn(value); });
}

export function toggleLang() { setLang(current === "id" ? "en" : "id"); }

export function onLangChange(fn) {
  langListeners.push(fn);
}

/* A page's translator over its own table ({id: {...}, en: {...}}) and the shared one below:
   t("key", {name: "x"}) fills {name} placeholders; falls back to Indonesian, then the key. */
export function strings(table) {
  return function (key, params) {
    var text = lookup(table, current, key);
    if (text === undefined) text = lookup(table, "id", key);
    if (text === undefined) text = key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (all, name) {
        return params[name] === undefined || params[name] === null ? "" : String(params[name]);
      });
    }
    return text;
  };
}

function lookup(table, language, key) {
  var own = table[language] && table[language][key];
  return own !== undefined ? own : SHARED[language][key];
}

/* ---- One vocabulary ------------------------------------------------------------------
   Every string a shop owner or a customer reads, in every page module's table and on the
   server's coded refusals, alerts and CSV headers, uses these words (issue 19). A new page
   uses them too; tests/test_a11y.py checks the words each language must not use.

   Indonesian                           English
   tagihan (never transaksi/invoice)    bill
   nomor tagihan; "No. tagihan"         bill number; "Bill no." (never "bill ID")
   lunas, "Lunas pada" (never dibayar)  paid, "Paid at"
   menunggu                             pending
   kedaluwarsa                          expired
   dibatalkan                           cancelled
   pesanan; "ID pesanan"                order; "order ID"
   toko (the API keeps "merchant")      shop
   nominal (also on the checkout,       amount
     never "harga")
   kode unik (written Rp765)            unique code
   total                                total
   pengirim                             sender
   notifikasi                           notification
   dilampirkan (to a bill)              attached
   aplikasi penerus notifikasi          notification forwarder app
   tanda hidup (HP)                     heartbeat
   e-wallet (never dompet digital)      e-wallet (never wallet alone)
   kirim ulang                          resend (never redeliver)
   antre / terkirim / gagal             queued / delivered (sent) / failed
   kesalahan (never galat)              error
   kotak masuk                          inbox
   kasir                                cashier
   tautan pembayaran                    payment link
   struk                                receipt
   peringatan                           alert
   akun                                 account
   peran                                role
   pengelola toko                       shop manager
   HP (never ponsel)                    phone
   Anda (never kamu)                    you

   English counts: "1 bill", "2 bills" (plural() below, with a key_one). A sentence must read
   whole when a value is missing: keep a second sentence for that case (a key_no_shop…),
   never drop an empty value into the middle of one. Every key in both languages.
   Server refusals carry error_code (+ error_details): the dashboard words them by "err_<code>"
   here; the server's own English `message` stays for API clients (the seed's contract). */
var SHARED = {
  id: {
    nav_overview: "Ringkasan", nav_payments: "Tagihan", st_pending: "Menunggu", st_paid: "Lunas",
    st_expired: "Kedaluwarsa", st_cancelled: "Dibatalkan", oc_matched: "Cocok", oc_duplicate: "Duplikat",
    oc_unparsed: "Tak terbaca", oc_unmatched: "Tak cocok", oc_test: "Tes",
    oc_needs_attention: "Perlu perhatian", ds_pending: "Antre", ds_sending: "Mengirim",
    ds_delivered: "Terkirim", ds_failed: "Gagal", all: "Semua", all_merchants: "Semua toko",
    loading: "Memuat…", load_more: "Muat lagi", retry: "Coba lagi", close: "Tutup", cancel: "Batal",
    close_message: "Tutup pesan: {what}", load_more_failed: "Daftar berikutnya tidak termuat.",
    copy: "Salin", copied: "Tersalin", copy_failed: "Tidak bisa menyalin", back: "Kembali",
    error_generic: "Terjadi kesalahan: {message}", network_error: "Server tidak dapat dihubungi.", none: "–",
    yes: "Ya", open: "Buka", from_sender: "dari {name}", feed_attention_unparsed: "Notifikasi tanpa nominal",
    merchant: "Toko", attach_exact: "nominal sama", secret_once_title: "Simpan sekarang: hanya ditampilkan sekali",
    secret_once_body: "Salin dan simpan di tempat aman. WebQRIS hanya menyimpan hash-nya dan tidak bisa menampilkannya lagi.",
    secret_saved: "Sudah saya simpan",
    field_name: "Nama toko", field_invoice_id: "Nomor tagihan", field_customer_name: "Nama pelanggan",
    field_merchant_order_id: "ID pesanan", field_amount: "Nominal", field_expires_in_seconds: "Masa berlaku (detik)",
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
    err_no_merchant_name: "QRIS ini tidak memuat nama toko, jadi pelanggan tidak tahu kepada siapa mereka membayar. Minta QRIS statis yang lengkap ke bank atau penyedia QRIS Anda.",
    err_amount_not_whole: "Nominal harus bilangan bulat rupiah, tanpa titik atau desimal, misalnya 25042.",
    err_amount_not_positive: "Nominal harus lebih dari 0 rupiah.",
    err_amount_too_large: "Nominal terlalu besar untuk QRIS (paling banyak 13 digit).",
    err_payment_not_payable: "Tagihan ini sudah {status}: hanya tagihan yang menunggu atau kedaluwarsa yang dapat dilunasi.",
    err_payment_not_cancellable: "Tagihan ini tidak dapat dibatalkan: statusnya {status}.",
    err_notification_not_attachable: "Hanya notifikasi yang belum cocok, belum dilampirkan, dan belum diselesaikan yang dapat dilampirkan.",
    err_notification_not_resolvable: "Hanya notifikasi yang masih perlu perhatian yang dapat diselesaikan.",
    err_notification_not_resolved: "Notifikasi ini belum diselesaikan.",
    err_copy_of_not_a_payment: "Salinan harus merujuk notifikasi toko ini yang melunasi tagihan dengan nominal yang sama.",
    err_delivery_already_queued: "Webhook ini sudah dalam antrean kirim.",
    err_wording_refused: "WebQRIS tidak dapat mempelajari kalimat ini.",
    err_notification_not_teachable: "Hanya notifikasi dari HP yang nominalnya tak terbaca dan belum dilampirkan yang dapat diajarkan.",
    err_too_many_wordings: "Toko ini sudah punya {count} kalimat untuk aplikasi ini: hapus sebagian di halaman Toko dulu.",
    err_amount_mismatch: "Notifikasi menyebut {notification_amount}, tetapi total tagihan {invoice_total}.",
    err_app_already_trusted: "Notifikasi ini tidak ditolak karena aplikasinya.",
    err_no_app: "Notifikasi ini tidak menyebut aplikasi: izinkan notifikasi tanpa nama aplikasi di pengaturan toko.",
    err_not_a_payment_app: "Ini bukan aplikasi pembayaran, jadi tidak bisa dipercaya dari kotak masuk.",
    err_payment_not_found: "Tagihan ini tidak ditemukan.", err_notification_not_found: "Notifikasi ini tidak ditemukan.",
    err_delivery_not_found: "Webhook ini tidak ditemukan.", err_merchant_not_found: "Toko ini tidak ditemukan.",
    err_wording_not_found: "Kalimat ini tidak ditemukan: mungkin sudah dihapus.",
    err_webhook_url_missing: "Isi URL webhook toko ini dulu.",
    err_webhook_url_invalid: "URL webhook harus diawali http:// atau https://.",
    err_webhook_url_admin_only: "Hanya admin yang dapat mengubah URL webhook.",
    err_smtp_server_admin_only: "Hanya admin yang dapat mengubah server SMTP.",
    err_accepted_apps_invalid: "Daftar aplikasi harus berisi paling banyak 30 nama paket aplikasi.",
    err_not_a_package_name: "{value} bukan nama paket aplikasi Android (contohnya id.dana).",
    err_field_required: "{field} wajib diisi.", err_field_not_text: "{field} harus berupa teks.",
    err_field_not_integer: "{field} harus bilangan bulat.", err_field_out_of_range: "{field} harus antara {min} dan {max}.",
    err_field_too_long: "{field} terlalu panjang: paling banyak {max} karakter.",
    err_field_repeated: "{field} dikirim lebih dari sekali, dengan isi yang berbeda.",
    err_csrf_invalid: "Sesi dasbor ini sudah berganti. Muat ulang halaman, lalu coba lagi.",
    err_account_not_found: "Akun ini tidak ditemukan: mungkin sudah dihapus.",
    err_test_alerts_too_often: "Sudah {count} peringatan tes dikirim dalam satu jam terakhir. Coba lagi dalam {minutes} menit.",
    err_username_taken: "Nama pengguna ini sudah dipakai akun lain.",
    err_last_admin: "Ini akun admin terakhir: tambahkan admin lain dulu.",
    err_account_disabled: "Akun ini dinonaktifkan. Minta admin toko untuk mengaktifkannya.",
    err_username_invalid: "Nama pengguna harus 2–32 huruf kecil, angka, titik, garis bawah atau tanda hubung (tanpa spasi).",
    err_cashier_needs_one_shop: "Kasir melayani tepat satu toko: centang satu toko.",
    err_manager_needs_a_shop: "Pengelola toko perlu paling sedikit satu toko: centang tokonya.",
    err_admin_has_no_shops: "Admin melihat semua toko: jangan centang toko.",
    err_too_many_logins: "Terlalu banyak percobaan masuk yang salah. Coba lagi dalam {seconds} detik.",
    err_opening_hours_invalid: "Jam buka harus seperti 08:00-21:00.",
    err_opening_hours_out_of_range: "Jam buka harus seperti 08:00-21:00: jam 00 sampai 24, menit 00 sampai 59.",
    err_opening_hours_empty: "Jam buka dan jam tutup harus berbeda.",
    err_telegram_bot_token_invalid: "Token bot Telegram harus seperti yang diberikan @BotFather (123456:ABC…).",
    err_telegram_chat_id_invalid: "ID chat Telegram harus berupa angka (-100123…, 12345) atau @namakanal.",
    err_smtp_from_invalid: "Alamat pengirim bukan alamat email yang valid.",
    err_smtp_to_invalid: "Alamat email tidak valid: pisahkan beberapa alamat dengan koma."
  },
  en: {
    nav_overview: "Overview", nav_payments: "Bills", st_pending: "Pending", st_paid: "Paid",
    st_expired: "Expired", st_cancelled: "Cancelled", oc_matched: "Matched", oc_duplicate: "Duplicate",
    oc_unparsed: "Unreadable", oc_unmatched: "Unmatched", oc_test: "Test",
    oc_needs_attention: "Needs attention", ds_pending: "Queued", ds_sending: "Sending",
    ds_delivered: "Delivered", ds_failed: "Failed", all: "All", all_merchants: "All shops",
    loading: "Loading…", load_more: "Load more", retry: "Retry", close: "Close", cancel: "Cancel",
    close_message: "Close the message: {what}", load_more_failed: "The next part of the list did not load.",
    copy: "Copy", copied: "Copied", copy_failed: "Could not copy", back: "Back",
    error_generic: "Something went wrong: {message}", network_error: "Cannot reach the server.", none: "–",
    yes: "Yes", open: "Open", from_sender: "from {name}",
    feed_attention_unparsed: "Notification without an amount", merchant: "Shop",
    attach_exact: "same amount", secret_once_title: "Save it now: shown only once",
    secret_once_body: "Copy it and keep it somewhere safe. WebQRIS keeps only a hash and cannot show it again.",
    secret_saved: "I have saved it",
    field_name: "The shop name", field_invoice_id: "The bill number", field_customer_name: "The customer's name",
    field_merchant_order_id: "The order ID", field_amount: "The amount", field_expires_in_seconds: "The validity (seconds)",
    err_cut_off: "This QRIS is damaged: it is cut off at character {position}. Scan the sticker again and copy the whole QRIS text.",
    err_bad_field_number: "This QRIS is damaged or is not a QRIS: {value} at character {position} is not a field number. Scan the sticker again and copy the whole QRIS text.",
    err_bad_field_length: "This QRIS is damaged or is not a QRIS: the length of field {field} ({value}) is not a number. Scan the sticker again and copy the whole QRIS text.",
    err_field_cut_off: "This QRIS is damaged: field {field} is cut off before its end. Scan the sticker again and copy the whole QRIS text.",
    err_cannot_build: "A QRIS cannot be built from this data.",
    err_not_text: "A QRIS must be text. Paste the text read from your QRIS sticker.",
    err_empty: "The QRIS is empty. Paste the text read from your QRIS sticker.",
    err_not_qris: "This is not a QRIS: a QRIS text starts with 000201. Scan your QRIS sticker with a QR reader and paste the text it shows.",
    err_no_checksum: "This QRIS is incomplete: the checksum at its end (6304 and 4 characters) is missing. Scan the sticker again and copy the whole QRIS text.",
    err_field_twice: "This QRIS is damaged: field {field} appears twice. Scan the sticker again and copy the whole QRIS text.",
    err_bad_characters: "This QRIS contains characters that cannot be part of a QRIS. Scan the sticker again and copy the whole QRIS text.",
    err_checksum_mismatch: "This QRIS is damaged: its checksum does not match ({written} written, {computed} computed). Scan the sticker again and copy the whole QRIS text.",
    err_already_dynamic: "This QRIS is already dynamic (made for one payment with a fixed amount). Register the static QRIS printed on your shop's sticker instead.",
    err_unknown_type: "This QRIS has an unknown type (field 01 is {value}, a static QRIS has 11). Register the static QRIS printed on your shop's sticker.",
    err_not_rupiah: "This QRIS is not for Indonesian rupiah (currency {value}, expected 360). Use the QRIS sticker of your Indonesian shop.",
    err_not_indonesia: "This QRIS is not from Indonesia (country {value}, expected ID). Use the QRIS sticker of your Indonesian shop.",
    err_no_merchant_name: "This QRIS has no shop name, so customers cannot see who they pay. Ask your bank or QRIS provider for a complete static QRIS.",
    err_amount_not_whole: "The amount must be a whole number of rupiah, without dots or decimals, like 25042.",
    err_amount_not_positive: "The amount must be more than 0 rupiah.",
    err_amount_too_large: "The amount is too large for a QRIS (at most 13 digits).",
    err_payment_not_payable: "This bill is already {status}: only a pending or expired bill can be paid.",
    err_payment_not_cancellable: "This bill cannot be cancelled: it is {status}.",
    err_notification_not_attachable: "Only an unmatched notification that is not attached or resolved yet can be attached.",
    err_notification_not_resolvable: "Only a notification that still needs attention can be resolved.",
    err_notification_not_resolved: "This notification is not resolved.",
    err_copy_of_not_a_payment: "A copy must name this shop's notification that paid a bill of the same amount.",
    err_delivery_already_queued: "This webhook is already queued to be sent.",
    err_wording_refused: "WebQRIS cannot learn this wording.",
    err_notification_not_teachable: "Only a phone notification whose amount could not be read, and that is not attached yet, can teach a wording.",
    err_too_many_wordings: "This shop already has {count} wordings for this app: delete some on the Shops page first.",
    err_amount_mismatch: "The notification says {notification_amount}, but the bill totals {invoice_total}.",
    err_app_already_trusted: "This notification was not refused for its app.",
    err_no_app: "This notification names no app: allow notifications without an app name in the shop's settings.",
    err_not_a_payment_app: "This is not a payment app, so it cannot be trusted from the inbox.",
    err_payment_not_found: "This bill was not found.", err_notification_not_found: "This notification was not found.",
    err_delivery_not_found: "This webhook was not found.", err_merchant_not_found: "This shop was not found.",
    err_wording_not_found: "This wording was not found: it may have been deleted.",
    err_webhook_url_missing: "Set this shop's webhook URL first.",
    err_webhook_url_invalid: "The webhook URL must start with http:// or https://.",
    err_webhook_url_admin_only: "Only an admin can change the webhook URL.",
    err_smtp_server_admin_only: "Only an admin can change the SMTP server.",
    err_accepted_apps_invalid: "The app list may hold at most 30 app package names.",
    err_not_a_package_name: "{value} is not an Android app package name (like id.dana).",
    err_field_required: "{field} is required.", err_field_not_text: "{field} must be text.",
    err_field_not_integer: "{field} must be a whole number.", err_field_out_of_range: "{field} must be between {min} and {max}.",
    err_field_too_long: "{field} is too long: at most {max} characters.",
    err_field_repeated: "{field} was sent more than once, with different values.",
    err_csrf_invalid: "This dashboard session has changed. Reload the page, then try again.",
    err_account_not_found: "This account was not found: it may have been removed.",
    err_test_alerts_too_often: "{count} test alerts were sent in the last hour. Try again in {minutes} minutes.",
    err_username_taken: "Another account already has this username.",
    err_last_admin: "This is the last admin account: add another admin first.",
    err_account_disabled: "This account is disabled. Ask the shop's admin to enable it.",
    err_username_invalid: "A username is 2–32 lower-case letters, digits, dots, underscores or hyphens (no spaces).",
    err_cashier_needs_one_shop: "A cashier serves exactly one shop: tick one shop.",
    err_manager_needs_a_shop: "A shop manager needs at least one shop: tick its shops.",
    err_admin_has_no_shops: "An admin sees every shop: tick no shop.",
    err_too_many_logins: "Too many wrong sign-in attempts. Try again in {seconds} seconds.",
    err_opening_hours_invalid: "Opening hours look like 08:00-21:00.",
    err_opening_hours_out_of_range: "Opening hours look like 08:00-21:00: hours 00 to 24, minutes 00 to 59.",
    err_opening_hours_empty: "The shop must open and close at different times.",
    err_telegram_bot_token_invalid: "A Telegram bot token looks like the one @BotFather gives (123456:ABC…).",
    err_telegram_chat_id_invalid: "A Telegram chat ID is a number (-100123…, 12345) or @channelname.",
    err_smtp_from_invalid: "The sender address is not a valid e-mail address.",
    err_smtp_to_invalid: "An e-mail address is not valid: separate several addresses with commas."
  }
};

/* "1 bill", "2 bills": a table may keep a key_one beside a key for a count of one (Indonesian
   keeps both the same, "1 tagihan", "2 tagihan"). plural(t, "feed_expired", n, {…}). */
export function plural(translate, key, count, params) {
  var values = Object.assign({ count: count }, params || {});
  if (count === 1) {
    var one = translate(key + "_one", values);
    if (one !== key + "_one") return one;
  }
  return translate(key, values);
}

/* The words every page uses, for wq.js itself. */
var t = strings({});

var numberFormats = {};
export function groupDigits(n) {
  var loc = "id-ID"; // Rupiah always uses Indonesian grouping: Rp25.042
  if (!numberFormats[loc]) numberFormats[loc] = new Intl.NumberFormat(loc, { maximumFractionDigits: 0 });
  return numberFormats[loc].format(n);
}

/* 25042 -> "Rp25.042" (null -> "–"). */
export function rupiah(n) {
  if (n === null || n === undefined || n === "" || isNaN(Number(n))) return "–";
  var value = Number(n);
  return (value < 0 ? "-Rp" : "Rp") + groupDigits(Math.abs(value));
}

/* "Rp25.042" with the last `codeLength` digits (the unique code's) marked, for the pages that
   show a customer the total to pay (checkout, cashier). Read as one number ("Rp60.118"), not
   "Rp" | "60." | "118": the marked digits are for the eye. */
export function markedTotal(total, codeLength) {
  var text = groupDigits(total);
  var digits = 0;
  var cut = text.length;
  while (cut > 0 && digits < codeLength) {
    cut -= 1;
    if (/\d/.test(text.charAt(cut))) digits += 1;
  }
  return el("span", { class: "total" },
    el("span", { class: "sr-only", "data-testid": "total", text: "Rp" + text }),
    el("span", { "aria-hidden": "true" },
      el("span", { class: "rp" }, "Rp"),
      text.slice(0, cut),
      el("mark", { class: "code-digits" }, text.slice(cut))));
}

export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  var d = value instanceof Date ? value : new Date(value);
  return isNaN(d.getTime()) ? null : d;
}

/* A time in the browser's own zone, e.g. "9 Mar 2026 17.15". */
export function dateTime(value, withSeconds) {
  var d = toDate(value);
  if (!d) return "–";
  var options = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
  if (withSeconds) options.second = "2-digit";
  return new Intl.DateTimeFormat(locale(), options).format(d);
}

export function timeOnly(value) {
  var d = toDate(value);
  if (!d) return "–";
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(d);
}

export function dateOnly(value, options) {
  var d = toDate(value);
  if (!d) return "–";
  return new Intl.DateTimeFormat(locale(), options || { day: "numeric", month: "short", year: "numeric" }).format(d);
}

/* "5 menit yang lalu" / "5 minutes ago". */
export function relative(value) {
  var d = toDate(value);
  if (!d) return "–";
  var seconds = Math.round((d.getTime() - Date.now()) / 1000);
  var abs = Math.abs(seconds);
  var rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  if (abs < 45) return rtf.format(0, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}


export function $(id) { return document.getElementById(id); }

export function el(tag, attrs) {
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
export function append(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
  node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
}
export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

/* A repeated button's text for the eye, with the item it acts on for the ear: "Kirim ulang"
   reads "Kirim ulang ke Toko ABC" (the name starts with the visible text, as speech input
   needs). */
export function named(text, item) {
  return [text, item ? el("span", { class: "sr-only", text: " " + item }) : null];
}

/* Focus that survives a redraw. Items carry a stable data-key (an invoice id, a notification
   id); what had focus inside one (its n-th control) gets it back in the new drawing, or the
   item's first control when that one is gone (an attached notification loses its buttons).
   When the item itself is gone, focus goes to the page's heading rather than to <body>. */
var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

function controlsOf(holder) {
  var inside = Array.prototype.slice.call(holder.querySelectorAll(FOCUSABLE));
  return holder.matches(FOCUSABLE) ? [holder].concat(inside) : inside;
}

export function focusMark(node) {
  var holder = node && node.closest ? node.closest("[data-key]") : null;
  if (!holder) return null;
  return { key: holder.getAttribute("data-key"), index: controlsOf(holder).indexOf(node) };
}

export function focusByMark(mark, scope) {
  if (!mark) return false;
  var holder = (scope || document).querySelector('[data-key="' + CSS.escape(mark.key) + '"]');
  if (!holder) return false;
  var controls = controlsOf(holder);
  var target = controls[mark.index] || controls[0] || null;
  if (!target) return false;
  target.focus();
  return document.activeElement === target;
}

export function focusHeading() {
  var heading = document.querySelector("#view h1");
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus();
}

export function keepFocus(scope, draw) {
  var active = document.activeElement;
  var inside = active && active !== document.body && scope.contains(active);
  var mark = inside ? focusMark(active) : null;
  draw();
  if (!inside || scope.contains(document.activeElement)) return;
  if (!focusByMark(mark, scope)) focusHeading();
}

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
  link: '<path d="M14 3h7v7h-2V6.4l-8.3 8.3-1.4-1.4L17.6 5H14zM5 5h6v2H5v12h12v-6h2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2"/>',
  more: '<path d="M6 10.2a1.8 1.8 0 1 1 0 3.6 1.8 1.8 0 0 1 0-3.6m6 0a1.8 1.8 0 1 1 0 3.6 1.8 1.8 0 0 1 0-3.6m6 0a1.8 1.8 0 1 1 0 3.6 1.8 1.8 0 0 1 0-3.6"/>',
  key: '<path fill-rule="evenodd" d="M7 7.5a4.5 4.5 0 0 1 4.24 3H22v3h-2v3h-3v-3h-1.5v2h-3v-2h-1.26A4.5 4.5 0 1 1 7 7.5m0 3a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3"/>',
  accounts: '<path d="M9 4a4 4 0 1 1 0 8 4 4 0 0 1 0-8m0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4m7.5 1a3 3 0 1 1 0 6 3 3 0 0 1 0-6M9 13c3.3 0 7 1.6 7 4v3H2v-3c0-2.4 3.7-4 7-4m0 2c-2.6 0-5 1.2-5 2v1h10v-1c0-.8-2.4-2-5-2m8.5-1c2.4.2 4.5 1.4 4.5 3v3h-4v-3c0-1.1-.5-2.2-1.5-3"/>',
  // The checkout page's large state pictures.
  paid: '<circle cx="12" cy="12" r="11" fill="currentColor" opacity=".14"/><path d="M7 12.5l3.2 3.2L17.5 8.5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/>',
  clock: '<circle cx="12" cy="12" r="11" fill="currentColor" opacity=".14"/><circle cx="12" cy="12" r="7" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 8.5V12l2.5 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  cross: '<circle cx="12" cy="12" r="11" fill="currentColor" opacity=".14"/><path d="M8.5 8.5l7 7m0-7l-7 7" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/>',
  search: '<circle cx="12" cy="12" r="11" fill="currentColor" opacity=".14"/><circle cx="11" cy="11" r="4.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="M14.5 14.5l3 3" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>'
};
/* icon("warn") in the dashboard's 20 px; the checkout's state pictures pass their own class and size. */
export function icon(name, cls, size) {
  var px = String(size || 20);
  return el("span", { class: cls && size ? cls : "icon" + (cls ? " " + cls : ""), "aria-hidden": "true",
    html: '<svg viewBox="0 0 24 24" width="' + px + '" height="' + px + '" fill="currentColor">' + ICONS[name] + "</svg>" });
}

export function copyText(text) {
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

/* what: the copied thing's name, for the ear ("Salin URL notifikasi"). */
export function copyButton(getText, label, what) {
  var button = el("button", { type: "button", class: "btn btn-quiet btn-sm copy-btn" },
    icon("copy"), el("span", { text: label || t("copy") }), what ? el("span", { class: "sr-only", text: " " + what }) : null);
  button.addEventListener("click", function () {
    var text = typeof getText === "function" ? getText() : getText;
    copyText(text).then(function () {
      var shown = button.querySelector("span:not(.icon):not(.sr-only)");
      shown.textContent = t("copied");
      button.classList.add("is-copied");
      setTimeout(function () { shown.textContent = label || t("copy"); button.classList.remove("is-copied"); }, 1600);
    }, function () { toast(t("copy_failed"), "error"); });
  });
  return button;
}

/* A value with a copy button. */
export function copyField(label, value, opts) {
  opts = opts || {};
  return el("div", { class: "copy-field" + (opts.secret ? " is-secret" : "") },
    el("div", { class: "copy-label", text: label }),
    el("div", { class: "copy-row" },
      el("code", { class: "copy-value", "data-testid": opts.testid || null, text: value }),
      copyButton(value, null, label)));
}

export function debounce(fn, ms) {
  var timer = null;
  var wrapped = function () {
    var args = arguments;
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; fn.apply(null, args); }, ms);
  };
  wrapped.cancel = function () { if (timer) clearTimeout(timer); timer = null; };
  return wrapped;
}

export function statusBadge(status) {
  return el("span", { class: "badge st-" + status, "data-status": status, text: t("st_" + status) });
}
export function outcomeBadge(outcome) {
  return el("span", { class: "badge oc-" + outcome, text: t("oc_" + outcome) });
}
export function stateBadge(state) {
  return el("span", { class: "badge ds-" + state, text: t("ds_" + state) });
}

var APP_NAMES = {
  "id.dana": "DANA", "com.dana.id": "DANA", "com.gojek.gopay": "GoPay", "com.gojek.app": "Gojek", "com.gojek.gopaymerchant": "GoPay Merchant",
  "com.gojek.resto": "GoBiz", "ovo.id": "OVO", "com.shopeepay.id": "ShopeePay", "com.shopeepay.merchant.id": "ShopeePay Partner",
  // the Shopee shopping app, not a payment app: its name must not read as the wallet's
  "com.shopee.id": "Shopee",
  "com.telkom.mwallet": "LinkAja", "com.bca": "BCA mobile", "com.bca.mybca.omni.android": "myBCA", "id.co.bri.brimo": "BRImo", "id.bmri.livin": "Livin' by Mandiri",
  "src.com.bni": "BNI Mobile", "com.jago.digitalBanking": "Jago", "id.co.bankbkemobile.digitalbank": "SeaBank",
  "com.bcadigital.blu": "blu", "callback": "Callback", "manual": "Manual"
};
export function methodName(method) {
  if (!method) return t("none");
  return APP_NAMES[method] || method;
}

/* The dashboard's session: the shell fills it in at login and gives the hooks their work. */
export var session = {
  csrf: null, demo: false, loggedIn: false, secretOverlap: 0, attention: 0, account: null,
  merchants: null, merchantsPromise: null,
  expired: function () { /* the shell shows the login form */ },
  refreshAttention: function () { /* the shell counts the inbox again */ }
};

export function ApiError(message, status, body) {
  this.message = message; this.status = status; this.body = body;
}

export function api(method, path, body) {
  var options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  if (method !== "GET") options.headers["X-CSRF-Token"] = session.csrf || "";
  return fetch("/admin/api/" + path, options).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (!response.ok || data.success === false) {
        if (response.status === 401 && path !== "login" && path !== "session" && session.loggedIn) session.expired();
        throw new ApiError(data.message || ("HTTP " + response.status), response.status, data);
      }
      return data;
    });
  }, function () {
    throw new ApiError(t("network_error"), 0, null);
  });
}

export function qs(params) {
  var parts = [];
  Object.keys(params).forEach(function (key) {
    var value = params[key];
    if (value !== null && value !== undefined && value !== "") parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
  });
  return parts.length ? "?" + parts.join("&") : "";
}

export function errorText(err) {
  if (err && err.body && err.body.error_code) return problemText(err.message, err.body.error_code, err.body.error_details);
  return err && err.message ? err.message : String(err);
}

/* A coded problem in the dashboard's own words ("err_" strings, both languages), with the
   details filled in: a status and a field by their names here, an amount as rupiah. The
   server's message is for a code the dashboard does not know yet. */
var RUPIAH_DETAILS = { notification_amount: true, invoice_total: true };
var AMOUNT_FIELDS = { amount: true }; // their min and max are rupiah too
export function problemText(message, code, details) {
  if (!code) return message;
  var values = {};
  Object.keys(details || {}).forEach(function (key) {
    var value = details[key];
    if (key === "status" && t("st_" + value) !== "st_" + value) value = t("st_" + value).toLowerCase();
    else if (key === "field" && t("field_" + value) !== "field_" + value) value = t("field_" + value);
    else if (RUPIAH_DETAILS[key] || ((key === "min" || key === "max") && AMOUNT_FIELDS[details.field])) value = rupiah(value);
    values[key] = value;
  });
  var key = "err_" + code;
  var text = t(key, values);
  return text === key ? message : text;
}

export function loadMerchants(force) {
  if (session.merchantsPromise && !force) return session.merchantsPromise;
  // A cashier may not read the shops' settings: its session names its one shop.
  if (session.account && session.account.role === "cashier") {
    session.merchants = session.account.merchants;
    session.merchantsPromise = Promise.resolve(session.merchants);
    return session.merchantsPromise;
  }
  session.merchantsPromise = api("GET", "merchants").then(function (body) {
    session.merchants = body.data;
    return body.data;
  }, function (err) { session.merchantsPromise = null; throw err; });
  return session.merchantsPromise;
}

/* quiet: seen, not read out, when a live region on the page says the same thing already. */
export function toast(message, kind, quiet) {
  var node = el("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: quiet ? null : kind === "error" ? "alert" : "status",
    "aria-hidden": quiet ? "true" : null, text: message });
  $("toasts").appendChild(node);
  setTimeout(function () { node.classList.add("toast-out"); }, kind === "error" ? 6000 : 3800);
  setTimeout(function () { node.remove(); }, kind === "error" ? 6500 : 4300);
}

/* A one-click action that failed (reopen, a test webhook, cancelling at the till): money may
   hang on it, so its error stays on screen, read out once, until the owner closes it or tries
   the same action again; a toast fades in 6 s, missed by an owner who looked away. The page's
   #action-alerts holds them, outside the lists a live update redraws. key: the action and its
   item, so a retry replaces its own message (actionDone(key) on success); what: a sentence
   naming both ("Tagihan INV-1 tidak dibatalkan."). */
export function actionFailed(key, what, err) {
  actionDone(key);
  var close = el("button", { type: "button", class: "btn btn-quiet btn-sm action-alert-close", "aria-label": t("close_message", { what: what }) }, t("close"));
  var node = el("div", { class: "action-alert", role: "alert", "data-action": key },
    icon("warn"), el("p", { class: "action-alert-text" }, el("strong", { text: what }), " " + errorText(err)), close);
  function dismiss() {
    var next = node.nextElementSibling || node.previousElementSibling;
    var hadFocus = node.contains(document.activeElement);
    node.remove();
    if (!hadFocus) return;
    // Focus goes on to the next message, or back to the top of the page.
    if (next) { next.querySelector("button").focus(); return; }
    var heading = document.querySelector("#view h1") || document.querySelector("main:not([hidden]) h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }
  close.addEventListener("click", dismiss);
  node.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); dismiss(); }
  });
  $("action-alerts").appendChild(node);
}

export function actionDone(key) {
  Array.prototype.forEach.call($("action-alerts").querySelectorAll(".action-alert"), function (node) {
    if (node.getAttribute("data-action") === key) node.remove();
  });
}

/* A modal dialog. opts: title, body (nodes), confirmText, cancelText, danger, input {label, value, placeholder},
   extra (nodes after input), action(value) -> promise (errors shown inside), hideCancel. Resolves with the
   action's result, or null when dismissed. */
var dialogOpen = null;
export function dialogIsOpen() { return dialogOpen !== null; }

export function openDialog(opts) {
  var dialog = $("dialog");
  if (dialogOpen) dialogOpen(null);
  // Where focus goes back to: the opener, or the same item's control if a live redraw
  // replaced the opener while the dialog was open.
  var opener = document.activeElement;
  var openerMark = focusMark(opener);
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
      if (!opener || !document.contains(opener)) {
        if (!focusByMark(openerMark)) focusHeading();
      } else if (document.activeElement !== opener) {
        opener.focus();
      }
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

export function showSecrets(title, intro, entries) {
  var body = [el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("secret_once_body") }))];
  if (intro) body.unshift(el("p", { text: intro }));
  entries.forEach(function (entry) {
    body.push(copyField(entry.label, entry.value, { secret: true, testid: "secret-" + entry.key }));
  });
  return openDialog({ title: title || t("secret_once_title"), body: body, confirmText: t("secret_saved"), hideCancel: true });
}

export function pageHeader(title, actions, sub) {
  return el("div", { class: "page-head" },
    el("div", { class: "page-title" }, el("h1", { text: title }), sub ? el("p", { class: "muted", text: sub }) : null),
    actions ? el("div", { class: "page-actions" }, actions) : null);
}

export function loadingBlock() {
  return el("div", { class: "loading-block" }, el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: t("loading") }));
}

export function errorBlock(err, retry) {
  return el("div", { class: "callout callout-error", role: "alert" },
    el("span", { text: t("error_generic", { message: errorText(err) }) }),
    retry ? el("button", { type: "button", class: "btn btn-quiet btn-sm", onclick: retry }, t("retry")) : null);
}

export function merchantSelect(id, value, onChange) {
  var select = el("select", { id: id }, el("option", { value: "", text: t("all_merchants") }));
  loadMerchants().then(function (list) {
    list.forEach(function (m) { select.appendChild(el("option", { value: String(m.id), text: m.name })); });
    select.value = value || "";
  }, function () { /* the filter stays at "all" */ });
  select.addEventListener("change", function () { onChange(select.value); });
  return select;
}

/* A form refusing one field: the field itself says so (aria-invalid, described by the message)
   and takes the focus, so a screen reader reads the message with the field; the alert alone
   was cut short by the focus moving. Typing in the field again clears the mark. */
export function fieldProblem(control, problem, message) {
  problem.textContent = message;
  problem.hidden = false;
  var ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  if (ids.indexOf(problem.id) < 0) control.setAttribute("aria-describedby", ids.concat([problem.id]).join(" "));
  control.setAttribute("aria-invalid", "true");
  control.focus();
  function mended() {
    control.removeAttribute("aria-invalid");
    var left = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) { return id && id !== problem.id; });
    if (left.length) control.setAttribute("aria-describedby", left.join(" ")); else control.removeAttribute("aria-describedby");
    control.removeEventListener("input", mended);
    control.removeEventListener("change", mended);
  }
  control.addEventListener("input", mended);
  control.addEventListener("change", mended);
}

export function field(label, control, id, extraClass) {
  return el("div", { class: "field" + (extraClass ? " " + extraClass : "") }, el("label", { for: id, text: label }), control);
}

/* One paged list over an admin API collection, as every list page shows it: the first page (or,
   after a live change, as many rows as were shown), "load more" from the cursor, the empty state,
   a failure in place of the list. opts: path, params() -> the filters, results and more (nodes),
   empty() -> the empty text, render(rows) -> the list node, rendered() after a list is shown.
   A search that ran out of time answers with what it found and how far back it searched
   (searched_since): opts.searched(date, anyFound) -> the words for it, and the button
   (opts.searchOlder, its label) goes on from there. */
export function pagedList(opts) {
  var rows = [];
  var nextBefore = null;
  var searchedSince = null;
  var alive = true;

  function query(before, limit) {
    var params = Object.assign({}, opts.params ? opts.params() : {}, { before: before || "", limit: limit || 50 });
    return api("GET", opts.path + qs(params));
  }

  function load(keepCount) {
    var limit = keepCount ? Math.min(200, Math.max(50, rows.length)) : 50;
    return query(null, limit).then(function (body) {
      if (!alive) return;
      // A refresh of a search already taken further back than this answer reaches keeps the
      // older bills found, and where the search stopped (the end, or an older date).
      var last = rows[rows.length - 1];
      var reached = !nextBefore ? "" : searchedSince || (last && last.created_at) || null;
      if (keepCount && body.searched_since && reached !== null && reached < body.searched_since) {
        rows = body.data.concat(rows.filter(function (row) { return row.created_at < body.searched_since; }));
      } else {
        rows = body.data;
        nextBefore = body.next_before;
        searchedSince = body.searched_since || null;
      }
      render();
    }, function (err) {
      if (!alive) return;
      clear(opts.results).appendChild(errorBlock(err, function () { load(); }));
    });
  }

  function loadMore() {
    query(nextBefore).then(function (body) {
      if (!alive) return;
      var shown = rows.length;
      rows = rows.concat(body.data);
      nextBefore = body.next_before;
      searchedSince = body.searched_since || null;
      render();
      // "Load more" is gone or moved: the first new item is where reading goes on, or,
      // when a search found nothing more yet, the button that searches on.
      var first = opts.results.querySelectorAll("[data-key]")[shown];
      if (first) focusByMark({ key: first.getAttribute("data-key"), index: 0 }, opts.results);
      else if (opts.more.querySelector("button")) opts.more.querySelector("button").focus();
    }, function (err) {
      // Beside the button, until the next try or redraw: a toast faded before it was read.
      var old = opts.more.querySelector(".form-error");
      if (old) old.remove();
      opts.more.insertBefore(el("p", { class: "form-error", role: "alert", text: t("load_more_failed") + " " + errorText(err) }), opts.more.firstChild);
    });
  }

  function render() {
    keepFocus(opts.results, function () {
      clear(opts.results);
      clear(opts.more);
      var partly = !!(nextBefore && searchedSince);
      if (!rows.length && !partly) {
        opts.results.appendChild(el("div", { class: "empty-state", text: opts.empty() }));
        return;
      }
      opts.results.appendChild(rows.length ? opts.render(rows)
        : el("div", { class: "empty-state", role: "status", text: opts.searched(dateTime(searchedSince), false) }));
      if (partly && rows.length) opts.more.appendChild(el("p", { class: "muted", role: "status", text: opts.searched(dateTime(searchedSince), true) }));
      if (nextBefore) opts.more.appendChild(el("button", { type: "button", class: "btn btn-quiet", onclick: loadMore }, partly ? opts.searchOlder : t("load_more")));
    });
    if (rows.length && opts.rendered) opts.rendered();
  }

  return {
    load: load,
    rows: function () { return rows; },
    stop: function () { alive = false; }
  };
}

/* ====================================================================================== */
/* Live socket                                                                            */
/* ====================================================================================== */
/* The dashboard's /ws socket. It pings every 30 s so proxies keep it open; after a drop it
   waits (1 s, doubling up to 30 s), asks whether the session still holds (a 401 ends it),
   then connects again. handlers: state("connecting" | "on" | "off"), event(event), and
   reopened() after a reconnect, to catch up on what was missed meanwhile. */
export function liveSocket(handlers) {
  var ws = null;
  var backoff = 1000;
  var retryTimer = null;
  var pingTimer = null;
  var openedOnce = false;
  var closed = false;

  function connect() {
    if (closed || !session.loggedIn || ws) return;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    var socket = new WebSocket((location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + "/ws");
    ws = socket;
    handlers.state("connecting");
    socket.onopen = function () {
      if (ws !== socket) return;
      backoff = 1000;
      handlers.state("on");
      if (pingTimer) clearInterval(pingTimer);
      pingTimer = setInterval(function () { if (socket.readyState === 1) socket.send("ping"); }, 30000);
      if (openedOnce) handlers.reopened();
      openedOnce = true;
    };
    socket.onmessage = function (message) {
      if (typeof message.data !== "string" || message.data === "pong") return;
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event && event.event) handlers.event(event);
    };
    socket.onerror = function () { /* onclose follows */ };
    socket.onclose = function () {
      if (pingTimer) { clearInterval(pingTimer); pingTimer = null; }
      if (ws !== socket) return;
      ws = null;
      handlers.state("off");
      if (closed || !session.loggedIn) return;
      var delay = backoff;
      backoff = Math.min(30000, backoff * 2);
      retryTimer = setTimeout(function () {
        retryTimer = null;
        // The session may have ended: check before trying the socket again.
        api("GET", "session").then(function (answer) {
          session.csrf = answer.csrf_token;
          connect();
        }, function (err) {
          if (err.status === 401) session.expired(); else connect();
        });
      }, delay);
    };
  }

  function close() {
    closed = true;
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (pingTimer) { clearInterval(pingTimer); pingTimer = null; }
    var socket = ws;
    ws = null;
    if (socket) { try { socket.close(); } catch (e) { /* already closed */ } }
  }

  connect();
  return {
    close: close,
    state: function () { return ws && ws.readyState === 1 ? "on" : ws ? "connecting" : "off"; }
  };
}
