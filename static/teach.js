/* Teach a wording, trust an app, pay anyway: the inbox's dialogs for money it could not pay.
   The owner marks the amount (and the payer) in an unreadable notification; the server
   derives the wording and says what it reads before anything is stored. */
import {
  ApiError, api, append, clear, el, errorText, icon, loadingBlock, methodName, openDialog, qs,
  rupiah, statusBadge, strings, toast
} from "./wq.js";

var t = strings({
  id: {
    teach_title: "Ajari WebQRIS kalimat ini",
    teach_intro: "Tandai nominal di teks notifikasi: pilih salah satu angka di bawah, atau blok teksnya lalu tekan \"Tandai sebagai nominal\". Jika ada nama pembayar, blok juga namanya. Setelah itu WebQRIS membaca sendiri kalimat yang sama dari aplikasi ini.",
    teach_text: "Teks notifikasi", teach_numbers: "Angka di teks:",
    teach_mark_amount: "Tandai sebagai nominal", teach_mark_sender: "Tandai sebagai nama pembayar",
    teach_clear_sender: "Hapus nama", teach_select_first: "Blok dulu bagian teksnya.",
    teach_need_amount: "Tandai nominalnya dulu.", teach_reads: "Akan terbaca: {amount}",
    teach_reads_from: "Akan terbaca: {amount} dari {sender}", teach_wording: "Kalimat yang akan dipelajari",
    teach_checking: "Memeriksa…", teach_pay_which: "Lunasi tagihan mana?",
    teach_pay_none: "Jangan lunasi sekarang, simpan kalimatnya saja", teach_ok: "Pelajari",
    teach_ok_pay: "Pelajari & lunasi",
    wr_noise: "Teks ini terbaca sebagai uang keluar, promo, kode, tagihan, atau pembayaran gagal: WebQRIS tidak pernah membacanya sebagai pembayaran.",
    wr_not_specific: "Terlalu sedikit teks selain nominal dan nama: kalimat seperti ini akan membaca hampir apa saja.",
    wr_not_an_amount: "Yang ditandai bukan nominal rupiah utuh: tandai semua angkanya (tanpa sen).",
    wr_bad_sender: "Yang ditandai sebagai nama tidak terbaca sebagai nama pembayar.",
    wr_overlap: "Nama dan nominal saling tumpang tindih.", wr_bad_span: "Tandai bagian teks notifikasi.",
    wr_empty: "Notifikasi ini tidak punya teks.",
    wr_too_long: "Notifikasi ini terlalu panjang untuk dipelajari.",
    wr_does_not_read: "Tanda ini tidak membaca kembali nominal dan nama yang sama.",
    pay_anyway_title: "Nominal berbeda: tetap lunasi?",
    pay_anyway_body: "Notifikasi menyebut {amount}, tetapi tagihan {invoice} totalnya {total}.",
    pay_anyway_less: "Uang yang masuk kurang {diff} dari total tagihan. Lunasi hanya jika Anda yakin uangnya sudah cukup.",
    pay_anyway_more: "Uang yang masuk lebih {diff} dari total tagihan.", pay_anyway_ok: "Tetap lunasi",
    keep_pending: "Jangan", trust_title: "Percayai {app} untuk {merchant}?",
    trust_body: "Mulai sekarang notifikasi dari {app} yang terbaca sebagai uang masuk akan melunasi tagihan {merchant} secara otomatis. Lakukan hanya jika {app} adalah aplikasi e-wallet atau bank toko: siapa pun yang bisa mengirim pesan ke aplikasi lain (email, SMS, chat) bisa memalsukan pembayaran.",
    trust_note: "Notifikasi ini sendiri tetap menunggu: lampirkan ke tagihannya.",
    trust_ok: "Percayai aplikasi ini", trusted_toast: "{app} kini boleh melunasi tagihan {merchant}."
  },
  en: {
    teach_title: "Teach WebQRIS this wording",
    teach_intro: "Mark the amount in the notification's text: pick one of the numbers below, or select it in the text and press \"Mark as amount\". If the text names the payer, select the name too. From then on WebQRIS reads the same wording from this app by itself.",
    teach_text: "Notification text", teach_numbers: "Numbers in the text:",
    teach_mark_amount: "Mark as amount", teach_mark_sender: "Mark as payer's name",
    teach_clear_sender: "Remove name", teach_select_first: "Select part of the text first.",
    teach_need_amount: "Mark the amount first.", teach_reads: "Will read: {amount}",
    teach_reads_from: "Will read: {amount} from {sender}", teach_wording: "Wording to learn",
    teach_checking: "Checking…", teach_pay_which: "Pay which bill?",
    teach_pay_none: "Don't pay now, only learn the wording", teach_ok: "Learn", teach_ok_pay: "Learn & pay",
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
    pay_anyway_more: "The money received is {diff} more than the bill's total.", pay_anyway_ok: "Pay anyway",
    keep_pending: "Don't", trust_title: "Trust {app} for {merchant}?",
    trust_body: "From now on, notifications from {app} that read as money received pay {merchant}'s bills by themselves. Only do this if {app} is the shop's e-wallet or bank app: anyone who can message another app (mail, SMS, chat) could fake a payment.",
    trust_note: "This notification itself still waits: attach it to its bill.", trust_ok: "Trust this app",
    trusted_toast: "{app} may now pay {merchant}'s bills."
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
export function payableInvoices(merchantId) {
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
    body: [el("p", { "data-testid": "pay-anyway-amounts", text: t("pay_anyway_body", { amount: rupiah(details.notification_amount), invoice: invoiceId, total: rupiah(details.invoice_total) }) }),
      el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t(diff < 0 ? "pay_anyway_less" : "pay_anyway_more", { diff: rupiah(Math.abs(diff)) }) }))],
    confirmText: t("pay_anyway_ok"), cancelText: t("keep_pending"),
    action: function () { return send(true).then(function () { return { done: true, invoiceId: invoiceId }; }); }
  });
}

/* Sends; on a different total asks, then sends again confirmed. Resolves {done, invoiceId}
   once sent (invoiceId null when nothing was to be paid), null when the owner kept it unpaid. */
export function sendWithPayAnyway(send, invoiceId) {
  return send(false).then(function () { return { done: true, invoiceId: invoiceId }; }, function (err) {
    var details = mismatchOf(err);
    if (!details) throw err;
    return { mismatch: details, invoiceId: invoiceId, send: send };
  });
}
export function settlePayAnyway(result) {
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

export function teachDialog(n) {
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
        el("p", { class: "teach-reads", "data-testid": "teach-reads", text: d.sender_name ? t("teach_reads_from", { amount: rupiah(d.amount), sender: d.sender_name }) : t("teach_reads", { amount: rupiah(d.amount) }) }),
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
          el("span", { class: "money", text: rupiah(p.total_amount) }), " ", statusBadge(p.status),
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

export function trustDialog(n) {
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
