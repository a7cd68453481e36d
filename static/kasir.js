/* WebQRIS cashier page: /kasir. A keypad for the amount, "Buat QR" makes a normal bill (same
   webhooks, same inbox) through /admin/api/merchants/{id}/invoices, the QR fills the screen
   with the exact total and its unique code marked, and the paid state arrives live over /ws
   (with a slow poll of the bill as a safety net), then the keypad waits for the next customer.
   An ES module over wq.js; strict CSP, so no inline code or styles. */
import {
  $, actionDone, actionFailed, api, append, clear, el, errorText, icon, lang, liveSocket, markedTotal, onLangChange, qs,
  rupiah, session, strings, timeOnly, toDate, toast, toggleLang
} from "./wq.js";

var t = strings({
  id: {
    page_title: "Kasir", title_shop: "Kasir · {shop}", switch_lang: "English", switch_lang_short: "EN",
    customer_mode: "Mode pelanggan", customer_mode_label: "Mode pelanggan: QR besar untuk tablet yang menghadap pelanggan",
    live_on: "Langsung", live_off: "Terputus", live_connecting: "Menyambung…", to_dashboard: "Dasbor",
    login_needed: "Masuk dulu untuk memakai kasir.", login: "Masuk ke dasbor",
    choose_shop: "Pilih toko", shop: "Toko", no_shops: "Belum ada toko. Tambahkan toko di dasbor dulu.",
    no_qris: "Toko ini belum punya QRIS statis. Atur QRIS-nya di dasbor dulu.",
    amount: "Nominal", amount_empty: "Ketik nominal", quick_amounts: "Nominal cepat", keypad: "Papan angka",
    note: "Catatan (opsional)", note_ph: "misalnya: 2 kopi susu", make_qr: "Buat QR", making_qr: "Membuat QR…",
    clear: "Hapus semua", backspace: "Hapus satu angka", digit: "Angka {digit}",
    too_small: "Nominal paling sedikit {min}.", too_large: "Nominal paling banyak {max}.",
    pay_exactly: "Bayar tepat", breakdown: "Nominal {amount} + kode unik {code}",
    code_note: "{digits} angka terakhir yang ditandai adalah kode unik: bayar tepat sampai angka itu.",
    scan: "Pindai dengan aplikasi e-wallet atau m-banking apa pun", qr_alt: "Kode QRIS untuk membayar {total}",
    time_left: "Sisa waktu", waiting: "Menunggu pembayaran…", cancel_bill: "Batalkan tagihan",
    cancelled: "Tagihan {invoice} dibatalkan.", cancel_failed: "Tagihan {total} ({invoice}) tidak dibatalkan.", expired_title: "Waktu pembayaran habis",
    expired_note: "Tagihan ini kedaluwarsa. Buat QR baru jika pelanggan belum membayar.",
    cancelled_title: "Tagihan dibatalkan", cancelled_note: "Tagihan ini dibatalkan. Buat QR baru jika pelanggan belum membayar.",
    paid_title: "Lunas", paid_note: "Pembayaran {total} sudah diterima.", paid_from: "Pembayaran {total} dari {sender} sudah diterima.",
    next_customer: "Pelanggan berikutnya", back_in: "Kembali ke papan angka dalam {n} detik.",
    receipt: "Struk", receipt_of: "Struk tagihan {invoice}", back_to_keypad: "Kembali ke papan angka",
    show_qr: "QR", show_qr_of: "Tampilkan lagi QR tagihan {total}",
    today: "Tagihan hari ini", today_none: "Belum ada tagihan hari ini.",
    today_paid_one: "{count} tagihan lunas · {sum}", today_paid_other: "{count} tagihan lunas · {sum}",
    today_paid_none: "Belum ada yang lunas hari ini.", st_paid: "Lunas", st_pending: "Menunggu",
    error_generic: "Terjadi kesalahan: {message}"
  },
  en: {
    page_title: "Cashier", title_shop: "Cashier · {shop}", switch_lang: "Bahasa Indonesia", switch_lang_short: "ID",
    customer_mode: "Customer mode", customer_mode_label: "Customer mode: a large QR for a tablet facing the customer",
    live_on: "Live", live_off: "Offline", live_connecting: "Connecting…", to_dashboard: "Dashboard",
    login_needed: "Sign in first to use the cashier page.", login: "Sign in to the dashboard",
    choose_shop: "Choose a shop", shop: "Shop", no_shops: "No shop yet. Add a shop in the dashboard first.",
    no_qris: "This shop has no static QRIS yet. Set its QRIS in the dashboard first.",
    amount: "Amount", amount_empty: "Type the amount", quick_amounts: "Quick amounts", keypad: "Keypad",
    note: "Note (optional)", note_ph: "e.g. 2 iced coffees", make_qr: "Make QR", making_qr: "Making the QR…",
    clear: "Clear all", backspace: "Delete one digit", digit: "Digit {digit}",
    too_small: "The amount must be at least {min}.", too_large: "The amount can be at most {max}.",
    pay_exactly: "Pay exactly", breakdown: "Amount {amount} + unique code {code}",
    code_note: "The {digits} marked last digits are the unique code: pay exactly, down to them.",
    scan: "Scan with any e-wallet or mobile banking app", qr_alt: "QRIS code to pay {total}",
    time_left: "Time left", waiting: "Waiting for the payment…", cancel_bill: "Cancel bill",
    cancelled: "Bill {invoice} cancelled.", cancel_failed: "The {total} bill ({invoice}) was not cancelled.", expired_title: "Payment time is up",
    expired_note: "This bill has expired. Make a new QR if the customer has not paid.",
    cancelled_title: "Bill cancelled", cancelled_note: "This bill was cancelled. Make a new QR if the customer has not paid.",
    paid_title: "Paid", paid_note: "The payment of {total} has arrived.", paid_from: "The payment of {total} from {sender} has arrived.",
    next_customer: "Next customer", back_in: "Back to the keypad in {n} seconds.",
    receipt: "Receipt", receipt_of: "Receipt of bill {invoice}", back_to_keypad: "Back to the keypad",
    show_qr: "QR", show_qr_of: "Show the QR of the bill for {total} again",
    today: "Today's bills", today_none: "No bills yet today.",
    today_paid_one: "{count} bill paid · {sum}", today_paid_other: "{count} bills paid · {sum}",
    today_paid_none: "Nothing paid yet today.", st_paid: "Paid", st_pending: "Pending",
    error_generic: "Something went wrong: {message}"
  }
});

var SHOP_KEY = "webqris.kasir.shop";
var MODE_KEY = "webqris.kasir.customer";
var BACK_TO_KEYPAD_SECONDS = 6;
var POLL_MS = 5000;

var state = {
  data: null,          // the /admin/api/kasir answer
  digits: "",          // the amount being typed
  note: "",
  bill: null,          // the bill on screen (QR or paid), or null for the keypad
  busy: false,
  socket: null,
  tick: null,
  poll: null,
  backTimer: null,
  backLeft: 0,
  audio: null
};

function stored(key) {
  try { return window.localStorage.getItem(key); } catch (e) { return null; }
}
function store(key, value) {
  try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: this page only */ }
}


/* ---- loading ------------------------------------------------------------------------ */
function load() {
  var shop = stored(SHOP_KEY);
  return api("GET", "kasir" + qs({ merchant_id: shop || "" })).then(function (body) {
    state.data = body;
    // While a bill is on screen only today's list changes: the QR is not drawn again.
    if (state.bill && document.querySelector("section.today")) replaceToday();
    else render();
  }, function (err) {
    if (err.status === 404 && shop) { // the remembered shop is gone: choose again
      store(SHOP_KEY, "");
      return load();
    }
    showProblem(err);
  });
}

function showProblem(err) {
  $("kasir").setAttribute("aria-busy", "false");
  var content = clear($("content"));
  if (err.status === 401) {
    append(content, el("div", { class: "panel center" }, el("p", { text: t("login_needed") }),
      el("a", { class: "btn btn-primary", href: "/?next=kasir", id: "login-link" }, t("login"))));
    return;
  }
  append(content, el("p", { class: "callout", role: "alert", text: t("error_generic", { message: errorText(err) }) }));
}

/* ---- rendering ---------------------------------------------------------------------- */
function applyChrome() {
  var shop = state.data && state.data.merchant;
  document.title = (shop ? t("title_shop", { shop: shop.name }) : t("page_title")) + " · WebQRIS";
  $("title").textContent = shop ? t("title_shop", { shop: shop.name }) : t("page_title");
  // The short code fits a 360 px bar in either language; its title says the whole name.
  $("lang-toggle").textContent = t("switch_lang_short");
  $("lang-toggle").setAttribute("title", t("switch_lang"));
  $("lang-toggle").setAttribute("lang", lang() === "id" ? "en" : "id");
  $("customer-mode").textContent = t("customer_mode");
  $("customer-mode").setAttribute("title", t("customer_mode_label"));
  $("brand-text").textContent = t("to_dashboard");
  setLive(state.socket ? state.socket.state() : "off");
}

function render() {
  applyChrome();
  $("kasir").setAttribute("aria-busy", "false");
  // A redraw (today's list read again after a payment) keeps focus where it was: on the
  // amount, the note or a button of the keypad's form, found again by its id.
  var before = document.activeElement;
  var focusedId = before && before.id && $("content").contains(before) ? before.id : null;
  var content = clear($("content"));
  var d = state.data;
  if (!d) return;
  if (!d.merchants.length) {
    content.appendChild(el("p", { class: "callout", text: t("no_shops") }));
    return;
  }
  if (d.merchants.length > 1 || !d.merchant) content.appendChild(shopChooser(d));
  if (!d.merchant) return;
  if (!d.merchant.qris_ready) {
    content.appendChild(el("p", { class: "callout", text: t("no_qris") }));
    return;
  }
  if (state.bill) content.appendChild(billScreen(state.bill));
  content.appendChild(keypadSection(d));
  content.appendChild(todaySection(d));
  if (state.bill) {
    var focus = $("bill-focus") || $("bill-heading");
    if (focus) focus.focus();
  } else if (focusedId && $(focusedId)) {
    $(focusedId).focus();
  }
}

function shopChooser(d) {
  var select = el("select", { id: "shop" }, el("option", { value: "", text: t("choose_shop") }),
    d.merchants.map(function (m) { return el("option", { value: String(m.id), text: m.name }); }));
  select.value = d.merchant ? String(d.merchant.id) : "";
  select.addEventListener("change", function () {
    store(SHOP_KEY, select.value);
    leaveBill();
    load();
  });
  return el("div", { class: "field shop-field" }, el("label", { for: "shop", text: t("shop") }), select);
}

function amountValue() { return state.digits ? Number(state.digits) : 0; }

function keypadSection(d) {
  var display = el("output", { id: "amount", class: "amount-display" + (state.digits ? "" : " is-empty"), for: "keypad", "aria-live": "polite", tabindex: "-1" },
    state.digits ? rupiah(amountValue()) : t("amount_empty"));
  var quick = el("div", { class: "quick", role: "group", "aria-label": t("quick_amounts") },
    (d.quick_amounts || []).map(function (amount) {
      return el("button", { type: "button", class: "chip", "data-amount": String(amount), onclick: function () { setDigits(String(amount)); $("make-qr").focus(); } }, rupiah(amount));
    }));
  var keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "000", "0", "back"];
  var pad = el("div", { class: "keypad", id: "keypad", role: "group", "aria-label": t("keypad") },
    keys.map(function (key) {
      if (key === "back") {
        return el("button", { type: "button", class: "key key-back", "data-key": "Backspace", "aria-label": t("backspace"), onclick: backspace }, "⌫");
      }
      return el("button", { type: "button", class: "key", "data-key": key, "aria-label": key.length === 1 ? t("digit", { digit: key }) : null, onclick: function () { typeDigits(key); } }, key);
    }));
  var note = el("input", { id: "note", type: "text", maxlength: "200", autocomplete: "off", value: state.note, placeholder: t("note_ph") });
  note.addEventListener("input", function () { state.note = note.value; });
  note.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); makeBill(); }
  });
  var problem = el("p", { id: "amount-problem", class: "form-error", role: "alert", hidden: true });
  var make = el("button", { type: "button", id: "make-qr", class: "btn btn-primary btn-make", disabled: !state.digits || state.busy, onclick: makeBill },
    state.busy ? t("making_qr") : t("make_qr"));
  var clearButton = el("button", { type: "button", class: "btn btn-quiet", id: "clear", onclick: function () { setDigits(""); } }, t("clear"));
  return el("section", { class: "panel keypad-panel", id: "keypad-panel", "aria-labelledby": "amount-label", hidden: !!state.bill },
    el("div", { class: "amount-row" },
      el("span", { id: "amount-label", class: "amount-label", text: t("amount") }), display),
    quick, pad,
    el("div", { class: "field" }, el("label", { for: "note", text: t("note") }), note),
    problem,
    el("div", { class: "make-row" }, clearButton, make));
}

function refreshKeypad() {
  var display = $("amount");
  if (!display) return;
  display.textContent = state.digits ? rupiah(amountValue()) : t("amount_empty");
  display.classList.toggle("is-empty", !state.digits);
  $("make-qr").disabled = !state.digits || state.busy;
  $("amount-problem").hidden = true;
}

function setDigits(value) {
  var max = state.data ? String(state.data.max_amount).length : 10;
  state.digits = value.replace(/^0+/, "").slice(0, max);
  refreshKeypad();
}
function typeDigits(key) { setDigits(state.digits + key); }
function backspace() { setDigits(state.digits.slice(0, -1)); }

function codeDigits(bill) {
  return Math.min(state.data.unique_code_digits, String(bill.total_amount).length);
}

function billScreen(bill) {
  var screen = el("section", { class: "bill-screen status-" + bill.status, id: "bill-screen", "data-status": bill.status, "data-invoice": bill.invoice_id, "aria-labelledby": "bill-heading" });
  if (bill.status === "paid") {
    var sender = bill.sender_name;
    append(screen, el("div", { class: "paid-box" },
      icon("paid", "paid-check", 120),
      el("h2", { id: "bill-heading", class: "paid-title", text: t("paid_title") }),
      el("p", { class: "paid-total money", text: rupiah(bill.total_amount) }),
      el("p", { class: "paid-note", text: sender ? t("paid_from", { total: rupiah(bill.total_amount), sender: sender }) : t("paid_note", { total: rupiah(bill.total_amount) }) }),
      el("p", { class: "back-in", id: "back-in", text: t("back_in", { n: state.backLeft || BACK_TO_KEYPAD_SECONDS }) }),
      el("div", { class: "bill-actions" },
        el("a", { class: "btn btn-quiet", href: bill.receipt_url, target: "_blank", rel: "noopener", "aria-label": t("receipt_of", { invoice: bill.invoice_id }), onclick: stopBackTimer }, t("receipt")),
        el("button", { type: "button", class: "btn btn-primary btn-make", id: "bill-focus", "data-testid": "next-customer", onclick: leaveBill }, t("next_customer")))));
    return screen;
  }
  if (bill.status !== "pending") {
    append(screen, el("div", { class: "paid-box" },
      icon("clock", "closed-icon", 96),
      // Cancelled elsewhere (the dashboard, the shop's backend) is not "time is up".
      el("h2", { id: "bill-heading", text: t(bill.status === "cancelled" ? "cancelled_title" : "expired_title") }),
      el("p", { class: "paid-note", text: t(bill.status === "cancelled" ? "cancelled_note" : "expired_note") }),
      el("button", { type: "button", class: "btn btn-primary btn-make", id: "bill-focus", onclick: leaveBill }, t("back_to_keypad"))));
    return screen;
  }
  append(screen, el("div", { class: "qr-box" },
    el("p", { class: "shop-name", text: state.data.merchant.name }),
    // Focus starts here, not on "Batalkan tagihan": the Enter that made the QR, pressed twice,
    // cancelled the bill the customer was scanning.
    el("h2", { id: "bill-heading", class: "scan", tabindex: "-1", text: t("scan") }),
    el("div", { class: "qr-frame" },
      el("img", { class: "qr", src: bill.qr_svg_url, width: "320", height: "320", alt: t("qr_alt", { total: rupiah(bill.total_amount) }) })),
    el("div", { class: "pay-label", text: t("pay_exactly") }),
    markedTotal(bill.total_amount, codeDigits(bill)),
    el("p", { class: "breakdown", text: t("breakdown", { amount: rupiah(bill.amount), code: rupiah(bill.unique_code) }) }),
    el("p", { class: "code-note", text: t("code_note", { digits: codeDigits(bill) }) }),
    bill.description ? el("p", { class: "bill-note", text: bill.description }) : null,
    el("div", { class: "countdown-row" },
      el("span", { text: t("time_left") }),
      el("span", { class: "countdown", id: "countdown", role: "timer", "aria-live": "off" }, "--:--")),
    el("p", { class: "waiting" }, el("span", { class: "pulse", "aria-hidden": "true" }), el("span", { text: t("waiting") })),
    el("div", { class: "bill-actions" },
      el("button", { type: "button", class: "btn btn-quiet", "data-testid": "cancel-bill", onclick: cancelBill }, t("cancel_bill")))));
  return screen;
}

function todaySection(d) {
  var paid = d.today_paid || { count: 0, sum: 0 };
  var summary = paid.count ? t(paid.count === 1 ? "today_paid_one" : "today_paid_other", { count: paid.count, sum: rupiah(paid.sum) }) : t("today_paid_none");
  var list = d.today && d.today.length ? el("ul", { class: "today-list", id: "today-list" }, d.today.map(function (bill) {
    return el("li", { class: "today-item", "data-invoice": bill.invoice_id, "data-status": bill.status },
      el("span", { class: "today-time" }, el("time", { datetime: bill.created_at, text: timeOnly(bill.paid_at || bill.created_at) })),
      el("span", { class: "today-what" },
        el("strong", { class: "money", text: rupiah(bill.total_amount) }),
        bill.description ? el("span", { class: "today-note", text: bill.description }) : null),
      el("span", { class: "badge st-" + bill.status, text: t("st_" + bill.status) }),
      bill.status === "paid" ? el("a", { class: "today-receipt", href: bill.receipt_url, target: "_blank", rel: "noopener", "aria-label": t("receipt_of", { invoice: bill.invoice_id }) }, t("receipt"))
        // A QR closed too early (a reload, a mistap) can be shown again while it is payable.
        : el("button", { type: "button", class: "today-receipt link-button", "aria-label": t("show_qr_of", { total: rupiah(bill.total_amount) }), onclick: function () { showBill(bill); } }, t("show_qr")));
  })) : el("p", { class: "muted", text: t("today_none") });
  // Hidden behind the bill's screen: a customer facing it sees only their own bill.
  return el("section", { class: "panel today", "aria-labelledby": "today-title", hidden: !!state.bill },
    el("div", { class: "today-head" }, el("h2", { id: "today-title", text: t("today") }), el("span", { class: "muted", id: "today-summary", text: summary })),
    list);
}

/* ---- the bill's life ------------------------------------------------------------------ */
function makeBill() {
  var d = state.data;
  if (state.busy || !d || !d.merchant || state.bill) return;
  var amount = amountValue();
  var problem = $("amount-problem");
  if (!amount) return;
  if (amount < d.min_amount || amount > d.max_amount) {
    problem.textContent = amount < d.min_amount ? t("too_small", { min: rupiah(d.min_amount) }) : t("too_large", { max: rupiah(d.max_amount) });
    problem.hidden = false;
    return;
  }
  prepareChime(); // inside the click: browsers start audio only after a user gesture
  state.busy = true;
  refreshKeypad();
  $("make-qr").textContent = t("making_qr");
  var body = { kind: "kasir", amount: amount };
  if (state.note.trim()) body.description = state.note.trim();
  api("POST", "merchants/" + d.merchant.id + "/invoices", body).then(function (answer) {
    state.busy = false;
    state.bill = answer.data;
    state.digits = "";
    state.note = "";
    render();
    startWatching();
    load();
  }, function (err) {
    state.busy = false;
    refreshKeypad();
    $("make-qr").textContent = t("make_qr");
    problem.textContent = errorText(err);
    problem.hidden = false;
  });
}

function showBill(bill) {
  if (state.bill) return;
  prepareChime();
  state.bill = Object.assign({}, bill);
  render();
  startWatching();
}

function cancelBill() {
  var bill = state.bill;
  if (!bill) return;
  var key = "cancel-" + bill.invoice_id;
  api("POST", "payments/" + encodeURIComponent(bill.invoice_id) + "/cancel").then(function () {
    actionDone(key);
    toast(t("cancelled", { invoice: bill.invoice_id }), "ok");
    leaveBill();
    load();
  }, function (err) {
    // Paid meanwhile: the payment wins, never the cancellation.
    checkBill();
    actionFailed(key, t("cancel_failed", { invoice: bill.invoice_id, total: rupiah(bill.total_amount) }), err);
  });
}

function startWatching() {
  stopWatching();
  state.tick = setInterval(tick, 1000);
  state.poll = setInterval(checkBill, POLL_MS);
  tick();
}
function stopWatching() {
  if (state.tick) clearInterval(state.tick);
  if (state.poll) clearInterval(state.poll);
  state.tick = state.poll = null;
}

function tick() {
  var bill = state.bill;
  var node = $("countdown");
  if (!bill || bill.status !== "pending" || !node) return;
  var end = toDate(bill.expired_at);
  var left = Math.max(0, Math.floor(((end ? end.getTime() : 0) - Date.now()) / 1000));
  var two = function (n) { return (n < 10 ? "0" : "") + n; };
  node.textContent = (left >= 3600 ? Math.floor(left / 3600) + ":" : "") + two(Math.floor(left % 3600 / 60)) + ":" + two(left % 60);
  node.classList.toggle("urgent", left < 60);
  if (left <= 0) checkBill();
}

/* The bill's status from its public checkout data: the safety net under the live socket. */
function checkBill() {
  var bill = state.bill;
  if (!bill || bill.status !== "pending") return;
  fetch("/pay/" + encodeURIComponent(bill.invoice_id) + "/data", { cache: "no-store", headers: { Accept: "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (body) {
      if (!body || state.bill !== bill || body.data.status === "pending") return;
      showStatus(body.data.status, {});
    }, function () { /* offline: the next poll or the socket tells */ });
}

function showStatus(status, data) {
  var bill = state.bill;
  if (!bill || bill.status === status) return;
  bill.status = status;
  if (data.sender_name) bill.sender_name = data.sender_name;
  if (status === "paid") {
    chime();
    stopWatching();
    startBackTimer();
    load();
  } else if (status !== "pending") {
    stopWatching();
  }
  render();
}

function startBackTimer() {
  stopBackTimer();
  state.backLeft = BACK_TO_KEYPAD_SECONDS;
  state.backTimer = setInterval(function () {
    state.backLeft -= 1;
    var line = $("back-in");
    if (line) line.textContent = t("back_in", { n: Math.max(0, state.backLeft) });
    if (state.backLeft <= 0) leaveBill();
  }, 1000);
}
function stopBackTimer() {
  if (state.backTimer) clearInterval(state.backTimer);
  state.backTimer = null;
  var line = $("back-in");
  if (line) line.remove();
}

function leaveBill() {
  stopWatching();
  stopBackTimer();
  state.backLeft = 0;
  state.bill = null;
  render();
  // On the amount, not on a key: digits typed there go into it and Enter makes the QR (on the
  // keypad's "1", Enter pressed that key: 9000 and Enter became 90001 and no QR).
  var display = $("amount");
  if (display) display.focus();
}

/* ---- the chime: two short notes from WebAudio, no sound file ----------------------------- */
function prepareChime() {
  var Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    if (!state.audio) state.audio = new Context();
    if (state.audio.state === "suspended") state.audio.resume();
  } catch (e) { state.audio = null; }
}

function chime() {
  var audio = state.audio;
  if (!audio) return;
  try {
    [[880, 0], [1320, 0.16]].forEach(function (note) {
      var start = audio.currentTime + note[1];
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = note[0];
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.4);
    });
  } catch (e) { /* no sound: the green check still shows */ }
}

/* ---- live ------------------------------------------------------------------------------ */
function setLive(live) {
  $("live").setAttribute("data-state", live);
  $("live-text").textContent = t(live === "on" ? "live_on" : live === "connecting" ? "live_connecting" : "live_off");
}

function onEvent(event) {
  var data = event.data || {};
  var bill = state.bill;
  if (event.event === "payment_paid" && bill && data.invoice_id === bill.invoice_id) {
    showStatus("paid", data);
    return;
  }
  if (event.event === "payments_expired" && bill && (data.invoice_ids || []).indexOf(bill.invoice_id) >= 0) {
    showStatus("expired", data);
    return;
  }
  if (state.data && state.data.merchant && (event.event === "payment_paid" || event.event === "new_payment")) refreshSoon();
}

var refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(function () { refreshTimer = null; load(); }, 300);
}

function replaceToday() {
  var old = document.querySelector("section.today");
  if (old) old.replaceWith(todaySection(state.data));
}

/* ---- keyboard ------------------------------------------------------------------------- */
function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  // A refusal's message takes its own keys (Enter, Escape close it), not the till's.
  if (target && target.closest && target.closest("#action-alerts")) return;
  var typing = target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA");
  if (state.bill) {
    if (state.bill.status !== "pending" && (event.key === "Enter" || event.key === "Escape") && !(target && target.tagName === "A")) {
      event.preventDefault();
      leaveBill();
    }
    return;
  }
  if (typing || !$("keypad")) return;
  if (/^[0-9]$/.test(event.key)) { event.preventDefault(); typeDigits(event.key); pressed(event.key); }
  else if (event.key === "Backspace") { event.preventDefault(); backspace(); pressed("Backspace"); }
  else if (event.key === "Escape") { event.preventDefault(); setDigits(""); }
  else if (event.key === "Enter" && !(target && (target.tagName === "BUTTON" || target.tagName === "A"))) { event.preventDefault(); makeBill(); }
}

function pressed(key) {
  var button = document.querySelector('.key[data-key="' + key + '"]');
  if (!button) return;
  button.classList.add("is-pressed");
  setTimeout(function () { button.classList.remove("is-pressed"); }, 120);
}

/* ---- customer-facing mode ---------------------------------------------------------------- */
function setCustomerMode(on) {
  document.body.classList.toggle("customer-mode", on);
  $("customer-mode").setAttribute("aria-pressed", String(on));
  store(MODE_KEY, on ? "1" : "");
}

function boot() {
  applyChrome();
  setCustomerMode(stored(MODE_KEY) === "1");
  $("customer-mode").addEventListener("click", function () {
    var on = !document.body.classList.contains("customer-mode");
    setCustomerMode(on);
    // A tablet facing the customer shows the page alone, without the browser's bars.
    var root = document.documentElement;
    if (on && root.requestFullscreen && !document.fullscreenElement) root.requestFullscreen().catch(function () { /* the page still works */ });
    if (!on && document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(function () { /* already left */ });
  });
  $("lang-toggle").addEventListener("click", function () { toggleLang(); });
  onLangChange(function () { document.documentElement.lang = lang(); render(); });
  document.addEventListener("keydown", onKey);
  // The dashboard's session: its CSRF token for creating bills, and the live socket.
  api("GET", "session").then(function (answer) {
    session.csrf = answer.csrf_token;
    session.loggedIn = true;
    session.expired = function () { session.loggedIn = false; showProblem({ status: 401 }); };
    state.socket = liveSocket({
      state: setLive,
      event: onEvent,
      reopened: function () { checkBill(); if (state.data && state.data.merchant) refreshSoon(); }
    });
    return load();
  }, showProblem);
}

boot();
