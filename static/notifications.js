/* Notification inbox: every notification from the shop's phones and callbacks, filtered by
   outcome, with the one-click ways to pay a bill with the money that matched none. */
import {
  ApiError, actionDone, actionFailed, api, append, clear, dateTime, debounce, dialogIsOpen, el, field, keepFocus,
  loadingBlock, merchantSelect, methodName, named, openDialog, outcomeBadge, pageHeader, pagedList,
  qs, rupiah, session, statusBadge, strings, toast
} from "./wq.js";
import { payableInvoices, sendWithPayAnyway, settlePayAnyway, teachDialog, trustDialog } from "./teach.js";

var t = strings({
  id: {
    notif_title: "Kotak masuk notifikasi", outcome: "Hasil", download_csv: "Unduh CSV",
    download_csv_label: "Unduh CSV notifikasi dengan filter ini",
    notif_intro: "Setiap notifikasi dari HP toko dan callback. Yang tak cocok adalah uang yang masuk tanpa tagihan: lampirkan ke tagihan yang benar, atau selesaikan bila bukan untuk tagihan.",
    no_notifs: "Tidak ada notifikasi dengan filter ini.", received: "Diterima", parsed: "Nominal terbaca",
    not_parsed: "Nominal tidak terbaca", attach: "Lampirkan ke tagihan",
    attached_to: "Dilampirkan ke {invoice}", matched_to: "Cocok dengan {invoice}",
    duplicate_of: "Duplikat dari #{id}", attach_title: "Lampirkan ke tagihan",
    attach_body: "Notifikasi {amount} dari {sender} akan melunasi tagihan yang Anda pilih, lalu webhook dikirim ke toko.",
    attach_body_no_sender: "Notifikasi {amount} ini akan melunasi tagihan yang Anda pilih, lalu webhook dikirim ke toko.",
    attach_body_no_amount: "Notifikasi dari {sender} ini akan melunasi tagihan yang Anda pilih, lalu webhook dikirim ke toko.",
    attach_body_bare: "Notifikasi ini akan melunasi tagihan yang Anda pilih, lalu webhook dikirim ke toko.",
    attach_body_unparsed: "Nominal notifikasi ini tidak terbaca. Periksa isinya sebelum melunasi tagihan.",
    attach_body_copy: "Sepertinya ini salinan pembayaran #{id} dari {app} yang sudah melunasi {invoice}: melampirkannya melunasi tagihan kedua dengan uang yang sama.",
    attach_input: "No. tagihan", attach_ok: "Lampirkan & lunasi",
    attach_candidates: "Tagihan yang menunggu atau kedaluwarsa:",
    attach_none: "Tidak ada tagihan menunggu atau kedaluwarsa di toko ini.",
    attached_toast: "Tagihan {invoice} lunas dengan notifikasi ini.",
    invoice_required: "Isi nomor tagihan.", source_callback: "Callback", source_forwarder: "HP",
    device: "HP", app_not_accepted: "Aplikasi ini belum dipercaya toko",
    teach: "Ajari kalimat ini", trust_app: "Percayai aplikasi ini",
    for_notification: "untuk notifikasi {what}", no_amount: "tanpa nominal",
    not_payment_app: "Aplikasi {kind}, bukan aplikasi pembayaran: siapa pun bisa mengirim pesan seperti ini.",
    kind_mail: "email", kind_sms: "SMS", kind_messaging: "chat", kind_social: "media sosial",
    "kind_caller-id": "pengenal penelepon", kind_marketplace: "toko online",
    teach_saved: "Kalimat dipelajari. Notifikasi berikutnya dengan kalimat ini terbaca sendiri.",
    teach_saved_paid: "Kalimat dipelajari dan tagihan {invoice} lunas.",
    resolve: "Selesaikan", resolve_title: "Selesaikan tanpa tagihan",
    resolve_body: "Uang ini tidak melunasi tagihan apa pun dan keluar dari daftar perlu perhatian. Tidak ada yang dilunasi, dan Anda bisa membukanya lagi.",
    resolve_why: "Alasannya", resolve_copy: "Salinan pembayaran #{id} dari {app} yang melunasi {invoice}",
    resolve_no_bill: "Bukan untuk tagihan: uang pribadi, sudah dikembalikan, atau bukan pembayaran",
    resolve_note: "Catatan (boleh kosong)", resolve_ok: "Selesaikan", resolved_toast: "Notifikasi diselesaikan.",
    maybe_copy: "Sepertinya salinan pembayaran #{id} dari {app} ({invoice})", maybe_for: "Dikirim saat tagihan {invoice} masih terbuka (kini kedaluwarsa)", attach_likely: "terbuka saat dikirim",
    resolved_copy: "Selesai: salinan #{id}", resolved_no_bill: "Selesai: bukan untuk tagihan",
    reopen: "Buka lagi", reopened_toast: "Notifikasi perlu perhatian lagi.",
    reopen_failed: "Notifikasi {what} tidak dibuka lagi."
  },
  en: {
    notif_title: "Notification inbox", outcome: "Outcome", download_csv: "Download CSV",
    download_csv_label: "Download CSV of the notifications of these filters",
    notif_intro: "Every notification from the shop's phones and callbacks. Unmatched ones are money that arrived without a bill: attach them to the right bill, or resolve them when they are for no bill.",
    no_notifs: "No notifications with this filter.", received: "Received", parsed: "Amount read",
    not_parsed: "Amount not readable", attach: "Attach to a bill", attached_to: "Attached to {invoice}",
    matched_to: "Matched {invoice}", duplicate_of: "Duplicate of #{id}", attach_title: "Attach to a bill",
    attach_body: "The notification of {amount} from {sender} will pay the bill you choose, and the webhook is sent to the shop.",
    attach_body_no_sender: "This notification of {amount} will pay the bill you choose, and the webhook is sent to the shop.",
    attach_body_no_amount: "This notification from {sender} will pay the bill you choose, and the webhook is sent to the shop.",
    attach_body_bare: "This notification will pay the bill you choose, and the webhook is sent to the shop.",
    attach_body_unparsed: "This notification's amount could not be read. Check its text before paying a bill with it.",
    attach_body_copy: "This looks like a copy of payment #{id} from {app}, which already paid {invoice}: attaching it pays a second bill with the same money.",
    attach_input: "Bill no.", attach_ok: "Attach & pay", attach_candidates: "Pending or expired bills:",
    attach_none: "No pending or expired bill at this shop.",
    attached_toast: "Bill {invoice} paid with this notification.", invoice_required: "Enter the bill number.",
    source_callback: "Callback", source_forwarder: "Phone", device: "Phone",
    app_not_accepted: "The shop does not trust this app yet", teach: "Teach this wording",
    trust_app: "Trust this app", for_notification: "for the notification {what}", no_amount: "without an amount",
    not_payment_app: "A {kind} app, not a payment app: anybody can send a message like this.",
    kind_mail: "mail", kind_sms: "SMS", kind_messaging: "chat", kind_social: "social media",
    "kind_caller-id": "caller ID", kind_marketplace: "online shop",
    teach_saved: "Wording learnt. The next notification with this wording is read by itself.",
    teach_saved_paid: "Wording learnt and bill {invoice} paid.",
    resolve: "Resolve", resolve_title: "Resolve without a bill",
    resolve_body: "This money pays no bill and leaves the needs-attention list. Nothing is paid, and you can reopen it.",
    resolve_why: "Why", resolve_copy: "A copy of payment #{id} from {app}, which paid {invoice}",
    resolve_no_bill: "Not for a bill: personal money, given back, or not a payment",
    resolve_note: "Note (optional)", resolve_ok: "Resolve", resolved_toast: "Notification resolved.",
    maybe_copy: "Looks like a copy of payment #{id} from {app} ({invoice})", maybe_for: "Sent while bill {invoice} was open (now expired)", attach_likely: "open when sent",
    resolved_copy: "Resolved: copy of #{id}", resolved_no_bill: "Resolved: not for a bill",
    reopen: "Reopen", reopened_toast: "The notification needs attention again.",
    reopen_failed: "The notification {what} was not reopened."
  }
});

/* The inbox's filters outlive a visit to a payment and back. */
var chosenFilters = { outcome: "", merchant_id: "" };

/* "Rp77.777 dari JOHN DOE 3 Des 2026 18.40": one notification among many, in words. */
function describe(n) {
  return [n.parsed_amount !== null && n.parsed_amount !== undefined ? rupiah(n.parsed_amount) : t("no_amount"),
    n.sender_name ? t("from_sender", { name: n.sender_name }) : null,
    dateTime(n.received_at)].filter(Boolean).join(" ");
}

export function notificationItem(n, opts) {
  opts = opts || {};
  var needs = (n.outcome === "unmatched" || n.outcome === "unparsed") && !n.attached_at && !n.resolved_at;
  var resolved = n.resolved_at ? (n.resolution === "copy" ? t("resolved_copy", { id: n.duplicate_of }) : t("resolved_no_bill")) : null;
  var title = [n.title, n.message].filter(Boolean);
  var source = n.source === "callback" ? t("source_callback") : n.app ? methodName(n.app) : t("source_forwarder");
  var linkTo = null;
  if (n.invoice_id) {
    var label = n.attached_at ? t("attached_to", { invoice: n.invoice_id }) : t("matched_to", { invoice: n.invoice_id });
    linkTo = el("a", { class: "notif-invoice", href: "#/payments/" + encodeURIComponent(n.invoice_id), text: label });
  }
  // The buttons of every item read the same; the ear also hears which notification they act on.
  var which = t("for_notification", { what: describe(n) });
  var item = el("li", { class: "notif oc-row-" + n.outcome + (needs ? " needs-attention" : "") + (n.attached_at || resolved ? " is-attached" : ""), "data-id": String(n.id), "data-key": "notification-" + n.id, "data-outcome": n.outcome },
    el("div", { class: "notif-main" },
      el("div", { class: "notif-top" },
        outcomeBadge(n.outcome),
        n.attached_at ? el("span", { class: "badge st-paid", text: t("st_paid") }) : null,
        resolved ? el("span", { class: "badge badge-ok", "data-testid": "resolved", text: resolved }) : null,
        el("span", { class: "notif-source", text: source }),
        opts.compact ? null : el("span", { class: "notif-merchant", text: n.merchant_name || "" }),
        el("time", { class: "notif-time", datetime: n.received_at, text: dateTime(n.received_at, true) })),
      title.length ? el("div", { class: "notif-text" }, n.title ? el("strong", { text: n.title + " " }) : null, n.message ? el("span", { text: n.message }) : null) : null,
      el("div", { class: "notif-facts" },
        n.parsed_amount !== null && n.parsed_amount !== undefined
          ? el("span", { class: "notif-amount money", text: rupiah(n.parsed_amount) })
          : n.outcome === "test" ? null : el("span", { class: "notif-amount muted", text: t("not_parsed") }),
        n.app_not_accepted ? el("span", { class: "badge badge-warn", "data-testid": "app-not-accepted", text: t("app_not_accepted") }) : null,
        n.app_kind ? el("span", { class: "muted", "data-testid": "not-payment-app", text: t("not_payment_app", { kind: t("kind_" + n.app_kind) }) }) : null,
        n.sender_name ? el("span", { text: t("from_sender", { name: n.sender_name }) }) : null,
        n.device_id ? el("span", { class: "muted", text: t("device") + " " + n.device_id }) : null,
        n.reference ? el("span", { class: "muted", text: "ref " + n.reference }) : null,
        n.duplicate_of && !resolved ? el("span", { class: "muted", text: t("duplicate_of", { id: n.duplicate_of }) }) : null,
        needs && n.likely_for ? el("span", { class: "muted", "data-testid": "maybe-for", text: t("maybe_for", { invoice: n.likely_for }) }) : null,
        needs && n.likely_copy_of ? el("span", { class: "muted", "data-testid": "maybe-copy", text: t("maybe_copy", { id: n.likely_copy_of.id, app: methodName(n.likely_copy_of.app), invoice: n.likely_copy_of.invoice_id }) }) : null,
        resolved && n.resolution_note ? el("span", { class: "muted", text: "“" + n.resolution_note + "”" }) : null,
        linkTo)),
    needs && opts.onAttach ? el("div", { class: "notif-actions" },
      n.outcome === "unparsed" && n.source === "forwarder" && (n.title || n.message) && opts.onTeach
        ? el("button", { type: "button", class: "btn btn-quiet btn-sm teach-btn", onclick: function () { opts.onTeach(n); } }, named(t("teach"), which)) : null,
      n.app_not_accepted && n.app && !n.app_kind && opts.onTrust
        ? el("button", { type: "button", class: "btn btn-quiet btn-sm trust-btn", onclick: function () { opts.onTrust(n); } }, named(t("trust_app"), which)) : null,
      opts.onResolve ? el("button", { type: "button", class: "btn btn-quiet btn-sm resolve-btn", onclick: function () { opts.onResolve(n); } }, named(t("resolve"), which)) : null,
      el("button", { type: "button", class: "btn btn-primary btn-sm attach-btn", onclick: function () { opts.onAttach(n); } }, named(t("attach"), which)))
    : resolved && opts.onReopen ? el("div", { class: "notif-actions" },
      el("button", { type: "button", class: "btn btn-quiet btn-sm reopen-btn", onclick: function () { opts.onReopen(n); } }, named(t("reopen"), which)))
    : null);
  return item;
}

function resolveDialog(n) {
  var choices = [];
  if (n.likely_copy_of) choices.push({ value: "copy", label: t("resolve_copy", { id: n.likely_copy_of.id, app: methodName(n.likely_copy_of.app), invoice: n.likely_copy_of.invoice_id }) });
  choices.push({ value: "no_bill", label: t("resolve_no_bill") });
  var box = el("fieldset", { class: "choices" }, el("legend", { text: t("resolve_why") }));
  choices.forEach(function (choice, i) {
    var input = el("input", { type: "radio", name: "resolution", id: "resolution-" + choice.value, value: choice.value });
    input.checked = i === 0;
    box.appendChild(el("div", { class: "choice" }, input, el("label", { for: input.id, text: choice.label })));
  });
  var body = [el("p", { text: t("resolve_body") })];
  if (n.message) body.push(el("blockquote", { class: "quote", text: [n.title, n.message].filter(Boolean).join(" — ") }));
  body.push(box);
  return openDialog({
    title: t("resolve_title"), body: body,
    input: { label: t("resolve_note") },
    confirmText: t("resolve_ok"),
    action: function (note) {
      var resolution = box.querySelector("input:checked").value;
      var fields = { resolution: resolution, note: note || null };
      if (resolution === "copy") fields.copy_of = n.likely_copy_of.id;
      return api("POST", "notifications/" + n.id + "/resolve", fields);
    }
  });
}

function attachDialog(n) {
  var candidates = el("div", { class: "candidates" }, loadingBlock());
  // One sentence for each thing the notification may lack, so none reads with a hole in it.
  var parsed = n.parsed_amount !== null && n.parsed_amount !== undefined;
  var values = { amount: parsed ? rupiah(n.parsed_amount) : null, sender: n.sender_name };
  var sentence = parsed ? (n.sender_name ? "attach_body" : "attach_body_no_sender")
    : (n.sender_name ? "attach_body_no_amount" : "attach_body_bare");
  var intro = [el("p", { text: t(sentence, values) })];
  if (!parsed) intro.push(el("p", { class: "callout callout-warn", text: t("attach_body_unparsed") }));
  if (n.likely_copy_of) intro.push(el("p", { class: "callout callout-warn", "data-testid": "attach-copy-warning", text: t("attach_body_copy", { id: n.likely_copy_of.id, app: methodName(n.likely_copy_of.app), invoice: n.likely_copy_of.invoice_id }) }));
  if (n.message) intro.push(el("blockquote", { class: "quote", text: [n.title, n.message].filter(Boolean).join(" — ") }));
  return openDialog({
    title: t("attach_title"), body: intro,
    input: { label: t("attach_input"), placeholder: "INV-…", value: n.likely_for || "" },
    extra: function (input) {
      payableInvoices(n.merchant_id).then(function (all) {
        // The bill that was open when the money was sent comes first: a pending bill of the
        // same total opened later is the one a late notification must not pay.
        all.sort(function (a, b) {
          var la = a.invoice_id === n.likely_for ? 0 : 1, lb = b.invoice_id === n.likely_for ? 0 : 1;
          var da = Math.abs(a.total_amount - (n.parsed_amount || 0)), db = Math.abs(b.total_amount - (n.parsed_amount || 0));
          return la - lb || da - db;
        });
        clear(candidates);
        if (!all.length) { candidates.appendChild(el("p", { class: "muted small", text: t("attach_none") })); return; }
        candidates.appendChild(el("p", { class: "muted small", text: t("attach_candidates") }));
        var list = el("ul", { class: "candidate-list" });
        all.slice(0, 8).forEach(function (p) {
          var exact = n.parsed_amount === p.total_amount;
          list.appendChild(el("li", null, el("button", { type: "button", class: "candidate" + (exact ? " is-exact" : ""), onclick: function () { input.value = p.invoice_id; input.focus(); } },
            el("span", { class: "candidate-id", text: p.invoice_id }),
            el("span", { class: "money", text: rupiah(p.total_amount) }),
            statusBadge(p.status),
            exact ? el("span", { class: "badge badge-ok", text: t("attach_exact") }) : null,
            p.invoice_id === n.likely_for ? el("span", { class: "badge", "data-testid": "candidate-likely", text: t("attach_likely") }) : null)));
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

export function viewNotifications(container) {
  if (location.hash.indexOf("needs_attention") >= 0) chosenFilters.outcome = "needs_attention";
  var outcomes = ["", "needs_attention", "unmatched", "unparsed", "matched", "duplicate", "test"];
  var chips = el("div", { class: "chips", role: "group", "aria-label": t("outcome") });
  function renderChips() {
    keepFocus(chips, drawChips);
  }
  function drawChips() {
    clear(chips);
    outcomes.forEach(function (o) {
      var label = o ? t("oc_" + o) : t("all");
      var chip = el("button", { type: "button", class: "chip" + (o === "needs_attention" && session.attention ? " chip-alert" : ""), "aria-pressed": String(chosenFilters.outcome === o), "data-outcome": o, "data-key": "outcome-" + (o || "all") },
        el("span", { text: label }), o === "needs_attention" && session.attention ? el("span", { class: "chip-count", text: String(session.attention) }) : null);
      chip.addEventListener("click", function () { chosenFilters.outcome = o; renderChips(); load(); });
      chips.appendChild(chip);
    });
  }
  renderChips();
  var list = el("div", { class: "results" }, loadingBlock());
  var more = el("div", { class: "more" });
  var download = el("button", { type: "button", class: "btn btn-quiet", id: "nf-csv", "aria-label": t("download_csv_label") }, t("download_csv"));
  download.addEventListener("click", function () { location.href = "/admin/api/notifications.csv" + qs(listParams()); });
  append(container, [
    pageHeader(t("notif_title"), null, t("notif_intro")),
    el("div", { class: "filters filters-inline" }, chips,
      field(t("merchant"), merchantSelect("nf-merchant", chosenFilters.merchant_id, function (v) { chosenFilters.merchant_id = v; load(); }), "nf-merchant")),
    list, more, el("div", { class: "list-foot" }, download)]);

  function listParams() { return { outcome: chosenFilters.outcome, merchant_id: chosenFilters.merchant_id }; }

  var pages = pagedList({
    path: "notifications", results: list, more: more,
    params: listParams,
    empty: function () { return t("no_notifs"); },
    render: function (rows) {
      return el("ul", { class: "notif-list" }, rows.map(function (n) { return notificationItem(n, { onAttach: attach, onTeach: teach, onTrust: trust, onResolve: resolve, onReopen: reopen }); }));
    }
  });
  function load() { return pages.load(); }
  function attach(n) {
    attachDialog(n).then(function (result) {
      if (!result) return;
      toast(t("attached_toast", { invoice: result.invoiceId }), "ok");
      session.refreshAttention();
      load();
    });
  }
  function teach(n) {
    teachDialog(n).then(function (result) {
      if (!result) return;
      toast(result.invoiceId ? t("teach_saved_paid", { invoice: result.invoiceId }) : t("teach_saved"), "ok");
      session.refreshAttention();
      load();
    });
  }
  function trust(n) {
    trustDialog(n).then(function (result) { if (result) load(); });
  }
  function resolve(n) {
    resolveDialog(n).then(function (result) {
      if (!result) return;
      toast(t("resolved_toast"), "ok");
      session.refreshAttention();
      load();
    });
  }
  function reopen(n) {
    var key = "reopen-" + n.id;
    api("POST", "notifications/" + n.id + "/reopen").then(function () {
      actionDone(key);
      toast(t("reopened_toast"), "ok");
      session.refreshAttention();
      load();
    }, function (err) {
      actionFailed(key, t("reopen_failed", { what: describe(n) }), err);
      load();
    });
  }
  var reload = debounce(load, 300);
  var poll = setInterval(function () { if (!document.hidden && !dialogIsOpen()) load(); }, 15000);
  load();
  return {
    onEvent: function () { reload(); },
    onAttention: function () { renderChips(); },
    refresh: load,
    destroy: function () { pages.stop(); clearInterval(poll); reload.cancel(); }
  };
}
