/* Webhook deliveries page, and the delivery card a payment's detail shows too. */
import {
  api, append, clear, dateTime, debounce, el, errorBlock, field, loadingBlock, merchantSelect, named,
  openDialog, pageHeader, pagedList, stateBadge, strings, timeOnly, toast
} from "./wq.js";

var t = strings({
  id: {
    attempts: "Percobaan", attempt_time: "Waktu", attempt_status: "Status HTTP", attempt_duration: "Durasi",
    attempt_error: "Kesalahan atau jawaban", no_attempts: "Belum ada percobaan.", redeliver: "Kirim ulang",
    redeliver_title: "Kirim ulang webhook?", redeliver_body: "Isi webhook yang sama persis dikirim lagi ke {url}.",
    redelivered: "Webhook dijadwalkan untuk dikirim ulang.", next_attempt: "Percobaan berikutnya",
    delivered_at: "Terkirim", payload: "Isi webhook", wh_title: "Pengiriman webhook",
    webhook_to: "webhook {event} ke {merchant}",
    wh_intro: "Setiap webhook ke server toko, dengan setiap percobaan. Gagal? Perbaiki server toko lalu kirim ulang.",
    state: "Status", no_webhooks: "Belum ada webhook dengan filter ini.", wh_event: "Jenis", wh_url: "Tujuan",
    show_attempts: "Lihat percobaan ({n})", hide_attempts: "Sembunyikan percobaan",
    last_error: "Kesalahan terakhir", test_event: "tes", test_sig_ok_badge: "Tanda tangan diterima",
    test_sig_ok: "Penerima menjawab HTTP 400 \"Invalid event\": penerima versi dokumentasi asli memeriksa tanda tangan dulu dan baru menolak jenis webhook yang tidak dikenalnya (webhook tes). Jadi tanda tangan diterima (tanda tangan salah dijawab 401 \"Invalid signature\")."
  },
  en: {
    attempts: "Attempts", attempt_time: "Time", attempt_status: "HTTP status", attempt_duration: "Duration",
    attempt_error: "Error / response", no_attempts: "No attempts yet.", redeliver: "Resend",
    redeliver_title: "Resend this webhook?", redeliver_body: "The exact same body is sent to {url} again.",
    redelivered: "Webhook queued to be sent again.", next_attempt: "Next attempt", delivered_at: "Delivered",
    payload: "Webhook body", wh_title: "Webhook deliveries", webhook_to: "the {event} webhook to {merchant}",
    wh_intro: "Every webhook to the shops' servers, with every attempt. Failed? Fix the shop's server, then resend.",
    state: "State", no_webhooks: "No webhooks with this filter.", wh_event: "Event", wh_url: "Target",
    show_attempts: "Show attempts ({n})", hide_attempts: "Hide attempts", last_error: "Last error",
    test_event: "test", test_sig_ok_badge: "Signature accepted",
    test_sig_ok: "The receiver answered HTTP 400 \"Invalid event\": receivers written from the original docs check the signature first and only then refuse an event they do not handle (this test). So the signature was accepted (a wrong one gets 401 \"Invalid signature\")."
  }
});

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
        el("td", { "data-label": t("attempt_time"), text: dateTime(a.attempted_at, true) }),
        el("td", { "data-label": t("attempt_status") }, el("span", { class: "badge " + (ok ? "ds-delivered" : "ds-failed"), text: a.status_code ? String(a.status_code) : "—" })),
        el("td", { "data-label": t("attempt_duration"), text: a.duration_ms !== null && a.duration_ms !== undefined ? a.duration_ms + " ms" : t("none") }),
        el("td", { "data-label": t("attempt_error"), class: "wrap" }, el("code", { class: "excerpt", text: a.error || a.response_excerpt || "" })));
    })));
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

export function deliveryCard(d, opts) {
  opts = opts || {};
  var which = t("webhook_to", { event: d.event, merchant: d.merchant_name || d.url }) + (d.invoice_id ? ", " + d.invoice_id : "");
  var attemptsBox = el("div", { class: "attempts", hidden: !opts.open });
  var toggle = null;
  if (opts.attempts) attemptsBox.appendChild(attemptsTable(opts.attempts));
  else {
    toggle = el("button", { type: "button", class: "btn btn-quiet btn-sm", "aria-expanded": "false" }, named(t("show_attempts", { n: d.attempts }), which));
    toggle.addEventListener("click", function () {
      var open = attemptsBox.hidden;
      attemptsBox.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      append(clear(toggle), named(open ? t("hide_attempts") : t("show_attempts", { n: d.attempts }), which));
      if (open) {
        clear(attemptsBox).appendChild(loadingBlock());
        api("GET", "webhooks/" + d.id + "/attempts").then(function (body) {
          clear(attemptsBox).appendChild(attemptsTable(body.data));
        }, function (err) { clear(attemptsBox).appendChild(errorBlock(err)); });
      }
    });
  }
  var redeliverButton = el("button", { type: "button", class: "btn btn-quiet btn-sm redeliver-btn", disabled: d.state === "sending" || d.state === "pending" }, named(t("redeliver"), which));
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
  return el("article", { class: "delivery ds-row-" + d.state, "data-id": String(d.id), "data-key": "delivery-" + d.id, "data-state": d.state },
    el("div", { class: "delivery-head" },
      badge,
      el("span", { class: "delivery-event" }, el("code", { text: d.event }), isTest ? el("span", { class: "badge", text: t("test_event") }) : null),
      d.invoice_id && !opts.attempts ? el("a", { href: "#/payments/" + encodeURIComponent(d.invoice_id), text: d.invoice_id }) : null,
      el("span", { class: "delivery-merchant muted", text: d.merchant_name }),
      el("time", { class: "delivery-time muted", datetime: d.created_at, text: dateTime(d.created_at, true) })),
    el("div", { class: "delivery-url" }, el("span", { class: "muted", text: t("wh_url") + " " }), el("code", { text: d.url || "–" })),
    el("div", { class: "delivery-facts" },
      el("span", { text: t("attempts") + ": " + d.attempts }),
      d.last_status_code ? el("span", { text: "HTTP " + d.last_status_code }) : null,
      d.delivered_at ? el("span", { text: t("delivered_at") + " " + dateTime(d.delivered_at, true) }) : null,
      d.next_attempt_at ? el("span", { text: t("next_attempt") + " " + timeOnly(d.next_attempt_at) }) : null,
      lastError),
    el("div", { class: "delivery-actions" }, toggle, redeliverButton),
    d.body ? el("details", { class: "delivery-body" }, el("summary", { text: t("payload") }), el("pre", { text: prettyJson(d.body) })) : null,
    attemptsBox);
}

/* The list's filters outlive a visit to a payment and back. */
var chosenFilters = { state: "", merchant_id: "" };

export function viewWebhooks(container) {
  var stateSelect = el("select", { id: "wf-state" }, el("option", { value: "", text: t("all") }),
    ["pending", "sending", "delivered", "failed"].map(function (s) { return el("option", { value: s, text: t("ds_" + s) }); }));
  stateSelect.value = chosenFilters.state;
  stateSelect.addEventListener("change", function () { chosenFilters.state = stateSelect.value; load(); });
  var list = el("div", { class: "results" }, loadingBlock());
  var more = el("div", { class: "more" });
  append(container, [
    pageHeader(t("wh_title"), null, t("wh_intro")),
    el("div", { class: "filters filters-2" }, field(t("state"), stateSelect, "wf-state"),
      field(t("merchant"), merchantSelect("wf-merchant", chosenFilters.merchant_id, function (v) { chosenFilters.merchant_id = v; load(); }), "wf-merchant")),
    list, more]);
  var pages = pagedList({
    path: "webhooks", results: list, more: more,
    params: function () { return { state: chosenFilters.state, merchant_id: chosenFilters.merchant_id }; },
    empty: function () { return t("no_webhooks"); },
    render: function (rows) {
      return el("div", { class: "deliveries" }, rows.map(function (d) { return deliveryCard(d, { onChange: load }); }));
    }
  });
  function load() { return pages.load(); }
  var reload = debounce(load, 400);
  // Retries happen in the background without an event: look again while any is in flight.
  var poll = setInterval(function () {
    if (!document.hidden && pages.rows().some(function (d) { return d.state === "pending" || d.state === "sending"; })) load();
  }, 5000);
  load();
  return {
    onEvent: function (event) { if (event.event === "webhook_delivered" || event.event === "payment_paid") reload(); },
    refresh: load,
    destroy: function () { pages.stop(); clearInterval(poll); reload.cancel(); }
  };
}
