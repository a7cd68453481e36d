/* WebQRIS hosted checkout page: /pay/{invoice_id}. Public; polls /pay/{id}/data for live
   status (there is no public socket). An ES module, strict CSP: no inline code or styles. */
import {
  append, copyText, dateTime, el, icon, lang, markedTotal, onLangChange, rupiah, strings,
  toDate, toggleLang
} from "./wq.js";

var t = strings({
  id: {
    "title": "Pembayaran QRIS",
    "loading": "Memuat tagihan…",
    "doc_title": "{merchant} · Pembayaran QRIS",
    "not_found": "Tagihan tidak ditemukan",
    "not_found_note": "Periksa kembali tautan pembayaran dari toko.",
    "load_error": "Tidak dapat memuat tagihan. Mencoba lagi…",
    "reconnecting": "Koneksi terputus, mencoba lagi…",
    "pay_exactly": "Bayar tepat",
    "exact_note": "Nominal harus tepat sampai {digits} digit terakhir agar pembayaran terdeteksi otomatis.",
    "breakdown": "Nominal {amount} + kode unik {code}",
    "scan": "Pindai QR dengan aplikasi e-wallet atau m-banking apa pun",
    "qr_alt": "Kode QRIS untuk membayar {total}",
    "deadline_today": "Bayar sebelum pukul {time} hari ini",
    "deadline_tomorrow": "Bayar sebelum besok, pukul {time}",
    "deadline_later": "Bayar sebelum {day} pukul {time}",
    "last_minute": "Kurang dari 1 menit lagi. Selesaikan pembayaran sekarang.",
    "time_left": "Sisa waktu",
    "copy_amount": "Salin nominal",
    "copied": "Tersalin",
    "save_qr": "Simpan QR",
    "waiting": "Menunggu pembayaran…",
    "step1": "Buka aplikasi e-wallet atau m-banking (DANA, GoPay, OVO, ShopeePay, BCA, …).",
    "step2": "Pindai kode QR di atas, atau simpan QR lalu unggah dari galeri.",
    "step3": "Pastikan nominalnya tepat, lalu bayar. Halaman ini berubah sendiri setelah pembayaran diterima.",
    "how": "Cara membayar",
    "simulate": "Simulasikan pembayaran (demo)",
    "simulating": "Mengirim…",
    "demo_note": "Mode demo: tidak ada uang sungguhan yang berpindah.",
    "paid_title": "Tagihan lunas",
    "paid_announce": "Tagihan lunas: {total} sudah diterima.",
    "total": "Total",
    "paid_note": "Terima kasih! {merchant} sudah menerima pembayaran {total}.",
    "paid_note_no_shop": "Terima kasih! Pembayaran {total} sudah diterima.",
    "paid_at": "Lunas pada",
    "back_to_shop": "Kembali ke toko",
    "redirecting": "Anda akan dibawa kembali ke toko dalam {n} detik.",
    "stay": "Tetap di sini",
    "expired_title": "Waktu pembayaran habis",
    "expired_note": "Tagihan ini sudah kedaluwarsa. Jangan membayar QR ini lagi; minta tagihan baru dari toko. Jika Anda sudah membayar, hubungi toko dengan menyebutkan nomor tagihan di bawah.",
    "cancelled_title": "Tagihan dibatalkan",
    "cancelled_note": "Tagihan ini dibatalkan oleh toko. Jangan membayar QR ini.",
    "invoice": "No. tagihan",
    "powered": "Pembayaran QRIS diproses oleh WebQRIS",
    "switch_lang": "Ganti bahasa ke English",
    "lang_short": "EN",
    "for_customer": "Untuk {customer}",
    "receipt": "Lihat struk"
  },
  en: {
    "title": "QRIS payment",
    "loading": "Loading the bill…",
    "doc_title": "{merchant} · QRIS payment",
    "not_found": "Bill not found",
    "not_found_note": "Please check the payment link the shop gave you.",
    "load_error": "Could not load the bill. Retrying…",
    "reconnecting": "Connection lost, retrying…",
    "pay_exactly": "Pay exactly",
    "exact_note": "The amount must be exact, down to the last {digits} digits, so the payment is detected automatically.",
    "breakdown": "Amount {amount} + unique code {code}",
    "scan": "Scan the QR with any e-wallet or mobile banking app",
    "qr_alt": "QRIS code to pay {total}",
    "deadline_today": "Pay before {time} today",
    "deadline_tomorrow": "Pay before {time} tomorrow",
    "deadline_later": "Pay before {time} on {day}",
    "last_minute": "Less than 1 minute left. Finish paying now.",
    "time_left": "Time left",
    "copy_amount": "Copy amount",
    "copied": "Copied",
    "save_qr": "Save QR",
    "waiting": "Waiting for your payment…",
    "step1": "Open your e-wallet or mobile banking app (DANA, GoPay, OVO, ShopeePay, BCA, …).",
    "step2": "Scan the QR code above, or save it and upload it from your gallery.",
    "step3": "Check that the amount is exact, then pay. This page updates by itself once the payment arrives.",
    "how": "How to pay",
    "simulate": "Simulate payment (demo)",
    "simulating": "Sending…",
    "demo_note": "Demo mode: no real money moves.",
    "paid_title": "Bill paid",
    "paid_announce": "Bill paid: {total} received.",
    "total": "Total",
    "paid_note": "Thank you! {merchant} has received your payment of {total}.",
    "paid_note_no_shop": "Thank you! Your payment of {total} has been received.",
    "paid_at": "Paid at",
    "back_to_shop": "Back to shop",
    "redirecting": "You will be taken back to the shop in {n} seconds.",
    "stay": "Stay here",
    "expired_title": "Payment time is up",
    "expired_note": "This bill has expired. Do not pay this QR any more; ask the shop for a new bill. If you already paid, contact the shop and quote the bill number below.",
    "cancelled_title": "Bill cancelled",
    "cancelled_note": "The shop cancelled this bill. Do not pay this QR.",
    "invoice": "Bill no.",
    "powered": "QRIS payment processed by WebQRIS",
    "switch_lang": "Switch language to Bahasa Indonesia",
    "lang_short": "ID",
    "for_customer": "For {customer}",
    "receipt": "See the receipt"
  }
});

var POLL_PENDING_MS = 2500;
var POLL_EXPIRED_MS = 6000;
var LATE_WATCH_MS = 15 * 60 * 1000; // an expired bill can still be paid late: keep watching
/* Long enough for a screen reader to finish "bill paid" and the note, and for anyone to reach
   "stay here"; the line says it once instead of counting down aloud (WCAG 2.2.1). */
var REDIRECT_SECONDS = 15;
var LAST_MINUTE_MS = 60000;

var invoiceId = decodeURIComponent((location.pathname.split("/")[2] || ""));
var card = document.getElementById("card");
var state = {
  data: null,
  shownStatus: null,
  skewMs: 0,
  notFound: false,
  failures: 0,
  expiredSince: null,
  redirectTimer: null,
  redirectCancelled: false,
  pollTimer: null,
  tickTimer: null,
  simulating: false,
  sawPending: false,
  lastMinuteSaid: false
};

/* The one place the page speaks up: the bill turning paid, the last minute. Said once each. */
function announce(text) {
  document.getElementById("announce").textContent = text;
}

/* How many of the total's last digits the unique code can change: the server says, from the
   configured code range. */
function codeDigits(d) {
  return Math.min(d.unique_code_digits, String(d.total_amount).length);
}

function serverNow() {
  return Date.now() + state.skewMs;
}

function formatLeft(ms) {
  var total = Math.max(0, Math.floor(ms / 1000));
  var h = Math.floor(total / 3600);
  var m = Math.floor((total % 3600) / 60);
  var s = total % 60;
  var two = function (n) { return (n < 10 ? "0" : "") + n; };
  return (h > 0 ? h + ":" + two(m) : two(m)) + ":" + two(s);
}

/* "18.43 hari ini" / "besok, 18.43" / "Senin, 30 Nov 18.43": the day named, no seconds. */
function deadlineText(end) {
  var time = new Intl.DateTimeFormat(lang() === "id" ? "id-ID" : "en-GB", { hour: "2-digit", minute: "2-digit" }).format(end);
  var now = new Date(serverNow());
  var startOfDay = function (d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); };
  var days = Math.round((startOfDay(end) - startOfDay(now)) / 86400000);
  if (days <= 0) return t("deadline_today", { time: time });
  if (days === 1) return t("deadline_tomorrow", { time: time });
  var day = new Intl.DateTimeFormat(lang() === "id" ? "id-ID" : "en-GB", { weekday: "long", day: "numeric", month: "short" }).format(end);
  return t("deadline_later", { day: day, time: time });
}

/* ---- rendering --------------------------------------------------------------------- */
function render() {
  var d = state.data;
  var toggle = document.getElementById("lang-toggle");
  toggle.textContent = t("lang_short"); // its name is what it shows; the title says what it does
  toggle.setAttribute("title", t("switch_lang"));
  document.title = t("title"); // until the bill names its shop
  document.getElementById("foot").textContent = t("powered");
  card.setAttribute("aria-busy", "false");
  card.textContent = "";
  if (state.notFound) {
    document.title = t("not_found");
    card.className = "card card-state";
    append(card, [icon("search", "state-icon state-icon-search", 64), el("h1", { text: t("not_found") }), el("p", { class: "note", text: t("not_found_note") })]);
    return;
  }
  if (!d) {
    card.className = "card";
    append(card, el("div", { class: "loading" }, el("span", { class: "spinner", "aria-hidden": "true" }),
      el("span", { text: state.failures ? t("load_error") : t("loading") })));
    return;
  }
  document.getElementById("merchant-name").textContent = d.merchant_name;
  document.title = t("doc_title", { merchant: d.merchant_name });
  card.className = "card status-" + d.status;
  card.setAttribute("data-status", d.status);
  if (d.status === "paid") renderPaid(d);
  else if (d.status === "expired") renderClosed(d, "clock", "expired_title", "expired_note");
  else if (d.status === "cancelled") renderClosed(d, "cross", "cancelled_title", "cancelled_note");
  else renderPending(d);
  // Said when it turns paid before the customer's eyes (also an expired bill paid late), not
  // when the page opens paid: then the heading says it.
  if (d.status === "paid" && state.shownStatus && state.shownStatus !== "paid") announce(t("paid_announce", { total: rupiah(d.total_amount) }));
  state.shownStatus = d.status;
}

function renderPending(d) {
  var qrSrc = "/pay/" + encodeURIComponent(d.invoice_id) + "/qr.svg";
  var copyButton = el("button", { type: "button", class: "btn btn-ghost", "data-testid": "copy-amount" }, t("copy_amount"));
  copyButton.addEventListener("click", function () {
    copyText(String(d.total_amount)).then(function () {
      copyButton.textContent = t("copied");
      setTimeout(function () { copyButton.textContent = t("copy_amount"); }, 1800);
    }, function () { /* nothing to copy to: the amount is on screen */ });
  });
  var expires = toDate(d.expired_at);
  append(card, [
    billAbout(d),
    el("p", { class: "scan", text: t("scan") }),
    el("div", { class: "qr-frame" },
      el("img", { class: "qr", src: qrSrc, width: "260", height: "260", alt: t("qr_alt", { total: rupiah(d.total_amount) }) }),
      el("span", { class: "qris-mark", "aria-hidden": "true", text: "QRIS" })),
    el("div", { class: "amount-block" },
      el("h1", { class: "amount-heading" }, el("span", { class: "pay-label", text: t("pay_exactly") }), " ",
        markedTotal(d.total_amount, codeDigits(d))),
      el("div", { class: "breakdown", text: t("breakdown", { amount: rupiah(d.amount), code: rupiah(d.unique_code) }) }),
      el("p", { class: "exact-note" }, t("exact_note", { digits: codeDigits(d) }))),
    el("div", { class: "actions" }, copyButton,
      el("a", { class: "btn btn-ghost", href: "/pay/" + encodeURIComponent(d.invoice_id) + "/qr.png", download: "QRIS-" + d.invoice_id + ".png" }, t("save_qr"))),
    el("div", { class: "countdown-wrap" },
      el("div", { class: "countdown-row" },
        el("span", { class: "countdown-label", id: "countdown-label", text: t("time_left") }),
        el("span", { class: "countdown", id: "countdown", role: "timer", "aria-live": "off", "aria-labelledby": "countdown-label" }, "--:--")),
      el("div", { class: "bar", "aria-hidden": "true" }, el("div", { class: "bar-fill", id: "bar-fill" })),
      expires ? el("div", { class: "deadline", id: "deadline" }, deadlineText(expires)) : null,
      el("p", { class: "deadline-warning", id: "last-minute", hidden: !state.lastMinuteSaid, text: t("last_minute") })),
    el("div", { class: "waiting" }, el("span", { class: "pulse", "aria-hidden": "true" }), el("span", { text: t("waiting") })),
    d.demo ? el("div", { class: "demo" },
      el("button", { type: "button", class: "btn btn-primary", id: "simulate", "data-testid": "simulate", disabled: state.simulating, onclick: simulate },
        state.simulating ? t("simulating") : t("simulate")),
      el("p", { class: "small", text: t("demo_note") })) : null,
    el("details", { class: "how" },
      el("summary", { text: t("how") }),
      el("ol", null, el("li", { text: t("step1") }), el("li", { text: t("step2") }), el("li", { text: t("step3") }))),
    el("p", { class: "invoice-id" }, t("invoice") + " ", el("code", { text: d.invoice_id }))
  ]);
  tick();
}

/* What a payment link is for, as the shop wrote it, and whom it is for; nothing otherwise. */
function billAbout(d) {
  if (!d.description && !d.customer_name) return null;
  return el("div", { class: "about", "data-testid": "about" },
    d.description ? el("p", { class: "about-description", text: d.description }) : null,
    d.customer_name ? el("p", { class: "about-customer", text: t("for_customer", { customer: d.customer_name }) }) : null);
}

function renderPaid(d) {
  var children = [
    icon("paid", "state-icon state-icon-check", 64),
    el("h1", { text: t("paid_title") }),
    el("p", { class: "paid-total" }, rupiah(d.total_amount)),
    el("p", { class: "note", text: d.merchant_name ? t("paid_note", { total: rupiah(d.total_amount), merchant: d.merchant_name })
      : t("paid_note_no_shop", { total: rupiah(d.total_amount) }) }),
    billAbout(d),
    el("dl", { class: "facts" },
      el("dt", { text: t("paid_at") }), el("dd", { text: dateTime(d.paid_at) }),
      el("dt", { text: t("invoice") }), el("dd", null, el("code", { text: d.invoice_id }))),
    el("a", { class: "btn btn-ghost btn-wide", id: "receipt-link", href: "/pay/" + encodeURIComponent(d.invoice_id) + "/receipt" }, t("receipt"))
  ];
  if (d.redirect_url) {
    children.push(el("a", { class: "btn btn-primary btn-wide", href: d.redirect_url, id: "back-to-shop", rel: "noreferrer" }, t("back_to_shop")));
    if (!state.redirectCancelled) {
      children.push(el("p", { class: "redirecting", id: "redirecting" },
        el("span", { id: "redirect-text", text: t("redirecting", { n: REDIRECT_SECONDS }) }), " ",
        el("button", { type: "button", class: "link", id: "stay", onclick: cancelRedirect }, t("stay"))));
    }
  }
  card.className += " card-state";
  append(card, children);
}

function renderClosed(d, iconName, titleKey, noteKey) {
  card.className += " card-state";
  append(card, [
    icon(iconName, "state-icon state-icon-" + iconName, 64),
    el("h1", { text: t(titleKey) }),
    el("p", { class: "note", text: t(noteKey) }),
    el("dl", { class: "facts" },
      el("dt", { text: t("total") }), el("dd", { text: rupiah(d.total_amount) }),
      el("dt", { text: t("invoice") }), el("dd", null, el("code", { text: d.invoice_id })))
  ]);
}

function tick() {
  var d = state.data;
  var node = document.getElementById("countdown");
  if (!d || d.status !== "pending" || !node) return;
  var end = toDate(d.expired_at);
  if (!end) return;
  var left = end.getTime() - serverNow();
  node.textContent = formatLeft(left);
  node.classList.toggle("urgent", left < LAST_MINUTE_MS);
  if (left < LAST_MINUTE_MS && left > 0 && !state.lastMinuteSaid) {
    state.lastMinuteSaid = true;
    var warning = document.getElementById("last-minute");
    if (warning) warning.hidden = false;
    announce(t("last_minute"));
  }
  var fill = document.getElementById("bar-fill");
  if (fill) {
    var start = toDate(d.created_at);
    var windowMs = start ? Math.max(1000, end.getTime() - start.getTime()) : Math.max(left, 60000);
    fill.style.width = Math.max(0, Math.min(100, (left / windowMs) * 100)).toFixed(2) + "%";
    fill.classList.toggle("urgent", left < LAST_MINUTE_MS);
  }
  if (left <= 0) schedulePoll(0);
}

/* ---- redirect after paying ---------------------------------------------------------- */
function startRedirect() {
  if (state.redirectTimer || state.redirectCancelled || !state.data || !state.data.redirect_url) return;
  // One timer, no ticking text: a count that changes every second is read out every second.
  state.redirectTimer = setTimeout(function () {
    state.redirectTimer = null;
    window.location.assign(state.data.redirect_url);
  }, REDIRECT_SECONDS * 1000);
}

function cancelRedirect() {
  state.redirectCancelled = true;
  if (state.redirectTimer) clearTimeout(state.redirectTimer);
  state.redirectTimer = null;
  var line = document.getElementById("redirecting");
  if (line) line.remove();
  var back = document.getElementById("back-to-shop");
  if (back) back.focus(); // the pressed button is gone: focus stays on the way back
}

/* ---- data --------------------------------------------------------------------------- */
function schedulePoll(ms) {
  if (state.pollTimer) clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(load, ms);
}

function load() {
  state.pollTimer = null;
  fetch("/pay/" + encodeURIComponent(invoiceId) + "/data", { cache: "no-store", headers: { Accept: "application/json" } })
    .then(function (response) {
      var date = response.headers.get("Date");
      if (date) {
        var server = new Date(date).getTime();
        if (!isNaN(server)) state.skewMs = server - Date.now();
      }
      if (response.status === 404) {
        state.notFound = true;
        render();
        return null;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (body) {
      if (!body) return;
      state.failures = 0;
      setOffline(false);
      var before = state.data ? state.data.status : null;
      state.data = body.data;
      if (body.data.status === "pending") state.sawPending = true;
      if (body.data.status !== before || !card.hasChildNodes() || state.shownStatus === null) render();
      if (body.data.status === "paid") {
        startRedirect();
        return;
      }
      if (body.data.status === "cancelled") return;
      if (body.data.status === "expired") {
        if (state.expiredSince === null) state.expiredSince = Date.now();
        if (Date.now() - state.expiredSince < LATE_WATCH_MS) schedulePoll(POLL_EXPIRED_MS);
        return;
      }
      schedulePoll(POLL_PENDING_MS);
    })
    .catch(function () {
      state.failures += 1;
      if (state.data) setOffline(true); else render();
      schedulePoll(Math.min(15000, 1500 * Math.pow(1.6, state.failures)));
    });
}

function setOffline(offline) {
  var existing = document.getElementById("offline");
  if (offline && !existing) {
    document.body.appendChild(el("div", { id: "offline", class: "offline", role: "status", text: t("reconnecting") }));
  } else if (!offline && existing) {
    existing.remove();
  }
}

function simulate() {
  if (state.simulating) return;
  state.simulating = true;
  var button = document.getElementById("simulate");
  if (button) { button.disabled = true; button.textContent = t("simulating"); }
  fetch("/pay/" + encodeURIComponent(invoiceId) + "/simulate", { method: "POST", headers: { Accept: "application/json" } })
    .catch(function () { return null; })
    .then(function () {
      state.simulating = false;
      schedulePoll(0);
    });
}

document.getElementById("lang-toggle").addEventListener("click", function () { toggleLang(); });
onLangChange(function () { render(); });
document.addEventListener("visibilitychange", function () {
  if (!document.hidden && state.data && state.data.status === "pending") schedulePoll(0);
});
state.tickTimer = setInterval(tick, 1000);
render();
if (invoiceId) load(); else { state.notFound = true; render(); }
