/* Payments page: the filtered list of bills, and one bill's detail with its notifications,
   webhooks, manual confirmation and cancellation. */
import {
  api, append, clear, copyButton, dateTime, debounce, el, errorBlock, field, icon, keepFocus,
  loadingBlock, merchantSelect, methodName, openDialog, pageHeader, pagedList, qs, rupiah, session,
  statusBadge, strings, toast
} from "./wq.js";
import { notificationItem } from "./notifications.js";
import { deliveryCard } from "./webhooks.js";

var t = strings({
  id: {
    all_statuses: "Semua status", reset: "Atur ulang", pay_title: "Tagihan", search: "Cari",
    search_ph: "No. tagihan, ID pesanan, atau nominal", status: "Status", filters: "Filter",
    filters_active: "Filter ({count})",
    date_from: "Dari tanggal", date_to: "Sampai tanggal", col_invoice: "Tagihan", col_total: "Total",
    col_created: "Dibuat", col_paid: "Lunas", download_csv: "Unduh CSV",
    download_csv_label: "Unduh CSV tagihan dengan filter ini",
    no_payments: "Tidak ada tagihan yang cocok dengan filter ini.",
    searched_none: "Belum ada tagihan yang cocok sejak {date}. Tagihan yang lebih lama belum dicari.",
    searched_some: "Dicari sampai tagihan {date}. Tagihan yang lebih lama belum dicari.",
    search_older: "Cari tagihan yang lebih lama",
    no_payments_yet: "Belum ada tagihan. Tagihan dibuat oleh server toko lewat API.", order: "ID pesanan {order}",
    detail_title: "Detail tagihan", amount: "Nominal", unique_code: "Kode unik",
    total: "Total", order_id: "ID pesanan", customer: "Pelanggan", method: "Metode", sender: "Pengirim",
    created: "Dibuat", expires: "Kedaluwarsa pada", paid_at: "Lunas pada", checkout_link: "Halaman bayar",
    confirm_manual: "Konfirmasi manual", cancel_payment: "Batalkan tagihan",
    confirm_manual_title: "Tandai tagihan ini lunas?",
    confirm_manual_body: "Tagihan {invoice} sebesar {total} akan ditandai lunas dan webhook dikirim ke toko. Lakukan ini hanya jika uangnya benar-benar sudah masuk.",
    confirm_manual_ok: "Ya, sudah lunas", cancel_title: "Batalkan tagihan?",
    cancel_body: "Tagihan {invoice} ({total}) dibatalkan dan pelanggan tidak bisa membayarnya lagi.",
    cancel_ok: "Ya, batalkan", keep: "Jangan", confirmed_toast: "Tagihan {invoice} ditandai lunas.",
    cancelled_toast: "Tagihan {invoice} dibatalkan.", notifications_of: "Notifikasi untuk tagihan ini",
    no_notifications: "Belum ada notifikasi yang terhubung.", deliveries_of: "Webhook untuk tagihan ini",
    no_deliveries: "Belum ada webhook untuk tagihan ini.",
    no_deliveries_url: "Belum ada webhook (toko ini belum punya URL webhook, atau tagihan belum lunas).",
    qr_for: "QR untuk {total}", not_found: "Tagihan tidak ditemukan.", description: "Keterangan",
    receipt: "Struk", receipt_of: "Struk tagihan {invoice}", kasir: "Kasir",
    payment_links: "Tautan pembayaran"
  },
  en: {
    all_statuses: "All statuses", reset: "Reset", pay_title: "Bills", search: "Search",
    search_ph: "Bill no., order ID or amount", status: "Status", filters: "Filters",
    filters_active: "Filters ({count})", date_from: "From date",
    date_to: "To date", col_invoice: "Bill", col_total: "Total", col_created: "Created", col_paid: "Paid",
    download_csv: "Download CSV", download_csv_label: "Download CSV of the bills of these filters",
    no_payments: "No bills match these filters.",
    searched_none: "No bills match since {date}. Older bills are not searched yet.",
    searched_some: "Searched back to the bills of {date}. Older bills are not searched yet.",
    search_older: "Search older bills",
    no_payments_yet: "No bills yet. The shop's server creates bills through the API.", order: "Order ID {order}",
    detail_title: "Bill details", amount: "Amount", unique_code: "Unique code",
    total: "Total", order_id: "Order ID", customer: "Customer", method: "Method", sender: "Sender",
    created: "Created", expires: "Expires at", paid_at: "Paid at", checkout_link: "Payment page",
    confirm_manual: "Confirm by hand", cancel_payment: "Cancel bill", confirm_manual_title: "Mark this bill paid?",
    confirm_manual_body: "Bill {invoice} for {total} will be marked paid and the webhook sent to the shop. Only do this when the money has really arrived.",
    confirm_manual_ok: "Yes, it is paid", cancel_title: "Cancel this bill?",
    cancel_body: "Bill {invoice} ({total}) will be cancelled and the customer can no longer pay it.",
    cancel_ok: "Yes, cancel it", keep: "Keep it", confirmed_toast: "Bill {invoice} marked paid.",
    cancelled_toast: "Bill {invoice} cancelled.", notifications_of: "Notifications for this bill",
    no_notifications: "No notification is linked yet.", deliveries_of: "Webhooks for this bill",
    no_deliveries: "No webhook for this bill yet.",
    no_deliveries_url: "No webhook yet (this shop has no webhook URL, or the bill is not paid).",
    qr_for: "QR for {total}", not_found: "Bill not found.", description: "Description",
    receipt: "Receipt", receipt_of: "Receipt of bill {invoice}", kasir: "Cashier",
    payment_links: "Payment links"
  }
});

/* The list's filters outlive a visit to a payment's detail and back. */
var chosenFilters = { q: "", status: "", merchant_id: "", from: "", to: "" };

function localDayStart(value) { // "2026-03-09" -> local midnight ms
  var parts = value.split("-").map(Number);
  return new Date(parts[0], parts[1] - 1, parts[2]).getTime();
}

/* The bills an event is about, to flash their rows or reload their detail. */
function eventInvoiceIds(event) {
  var data = event.data || {};
  if (event.event === "payments_expired") return data.invoice_ids || [];
  return data.invoice_id ? [data.invoice_id] : [];
}

export function viewPayments(container, params, reopen) {
  var flash = {};
  var searchInput = el("input", { id: "pf-q", type: "search", value: chosenFilters.q, placeholder: t("search_ph"), autocomplete: "off" });
  var statusSelect = el("select", { id: "pf-status" }, el("option", { value: "", text: t("all_statuses") }),
    ["pending", "paid", "expired", "cancelled"].map(function (s) { return el("option", { value: s, text: t("st_" + s) }); }));
  statusSelect.value = chosenFilters.status;
  var fromInput = el("input", { id: "pf-from", type: "date", value: chosenFilters.from });
  var toInput = el("input", { id: "pf-to", type: "date", value: chosenFilters.to });
  var resetButton = el("button", { type: "button", class: "btn btn-quiet" }, t("reset"));
  var activeCount = ["status", "merchant_id", "from", "to"].filter(function (k) { return chosenFilters[k]; }).length;
  var extra = el("div", { class: "filters-extra" + (activeCount ? " is-open" : ""), id: "pf-extra" },
    field(t("status"), statusSelect, "pf-status"),
    field(t("merchant"), merchantSelect("pf-merchant", chosenFilters.merchant_id, function (v) { chosenFilters.merchant_id = v; load(); }), "pf-merchant"),
    field(t("date_from"), fromInput, "pf-from"),
    field(t("date_to"), toInput, "pf-to"),
    el("div", { class: "field field-button" }, resetButton));
  var toggle = el("button", { type: "button", class: "btn btn-quiet filters-toggle", "aria-controls": "pf-extra", "aria-expanded": String(!!activeCount) },
    activeCount ? t("filters_active", { count: activeCount }) : t("filters"));
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
  // A shop without a backend of its own makes its bills here: at the counter or as a link.
  // A cashier makes them at the counter only, and downloads nothing (the server agrees).
  var cashierAccount = session.account && session.account.role === "cashier";
  var headerActions = [el("a", { class: "btn btn-quiet", id: "to-kasir", href: "/kasir" }, t("kasir"))];
  var foot = null;
  if (!cashierAccount) {
    headerActions.push(el("a", { class: "btn btn-quiet", id: "to-links", href: "#/links" }, icon("link"), el("span", { text: t("payment_links") })));
    // A download, not a fetch: the browser streams the file to disk, however many bills. It
    // stands after the list it downloads, so the keyboard reaches the bills first.
    var download = el("button", { type: "button", class: "btn btn-quiet", id: "pf-csv", "aria-label": t("download_csv_label") }, t("download_csv"));
    download.addEventListener("click", function () { location.href = "/admin/api/payments.csv" + qs(listParams()); });
    foot = el("div", { class: "list-foot" }, download);
  }
  append(container, [pageHeader(t("pay_title"), headerActions), filters, results, more, foot]);

  var searchLater = debounce(function () { chosenFilters.q = searchInput.value.trim(); load(); }, 300);
  searchInput.addEventListener("input", searchLater);
  statusSelect.addEventListener("change", function () { chosenFilters.status = statusSelect.value; load(); });
  fromInput.addEventListener("change", function () { chosenFilters.from = fromInput.value; load(); });
  toInput.addEventListener("change", function () { chosenFilters.to = toInput.value; load(); });
  resetButton.addEventListener("click", function () {
    chosenFilters = { q: "", status: "", merchant_id: "", from: "", to: "" };
    reopen();
  });

  function listParams() {
    return {
      status: chosenFilters.status, merchant_id: chosenFilters.merchant_id, q: chosenFilters.q,
      from: chosenFilters.from ? localDayStart(chosenFilters.from) : "",
      to: chosenFilters.to ? localDayStart(chosenFilters.to) + 86400000 : ""
    };
  }

  function filtered() {
    return !!(chosenFilters.q || chosenFilters.status || chosenFilters.merchant_id || chosenFilters.from || chosenFilters.to);
  }

  var pages = pagedList({
    path: "payments", results: results, more: more,
    params: listParams,
    empty: function () { return filtered() ? t("no_payments") : t("no_payments_yet"); },
    searched: function (date, anyFound) { return t(anyFound ? "searched_some" : "searched_none", { date: date }); },
    searchOlder: t("search_older"),
    render: function (rows) {
      var tbody = el("tbody");
      rows.forEach(function (p) { tbody.appendChild(paymentRow(p)); });
      return el("table", { class: "table table-payments" },
        el("thead", null, el("tr", null,
          el("th", { scope: "col", text: t("col_invoice") }), el("th", { scope: "col", text: t("merchant") }),
          el("th", { scope: "col", class: "num", text: t("col_total") }), el("th", { scope: "col", text: t("status") }),
          el("th", { scope: "col", text: t("col_created") }), el("th", { scope: "col", text: t("col_paid") }))),
        tbody);
    },
    rendered: function () { flash = {}; }
  });
  function load(keepCount) { return pages.load(keepCount); }

  function paymentRow(p) {
    var href = "#/payments/" + encodeURIComponent(p.invoice_id);
    var tr = el("tr", { class: "row-link" + (flash[p.invoice_id] ? " flash" : ""), "data-invoice": p.invoice_id, "data-key": p.invoice_id, "data-status": p.status },
      el("td", { "data-label": t("col_invoice") },
        el("a", { href: href, class: "invoice-link", text: p.invoice_id }),
        p.merchant_order_id ? el("div", { class: "sub", text: t("order", { order: p.merchant_order_id }) }) : null,
        p.customer_name ? el("div", { class: "sub", text: p.customer_name }) : null),
      el("td", { "data-label": t("merchant"), text: p.merchant_name }),
      el("td", { "data-label": t("col_total"), class: "num" },
        el("strong", { class: "money", text: rupiah(p.total_amount) }),
        el("div", { class: "sub", text: rupiah(p.amount) + " + " + p.unique_code })),
      el("td", { "data-label": t("status") }, statusBadge(p.status)),
      el("td", { "data-label": t("col_created") }, el("time", { datetime: p.created_at, text: dateTime(p.created_at) })),
      el("td", { "data-label": t("col_paid") }, p.status === "paid" ? [
        el("div", { text: dateTime(p.paid_at) }),
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
    destroy: function () { pages.stop(); reload.cancel(); searchLater.cancel(); }
  };
}

/* ---- payment detail ------------------------------------------------------------------ */
export function viewPaymentDetail(container, params) {
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
    keepFocus(body, function () { draw(p); });
  }

  function draw(p) {
    clear(body);
    body.setAttribute("data-status", p.status);
    var actions = el("div", { class: "detail-actions" });
    // A cashier's detail has no notifications or webhooks, and the server refuses it these actions.
    var cashier = session.account && session.account.role === "cashier";
    if (!cashier && (p.status === "pending" || p.status === "expired")) {
      actions.appendChild(el("button", { type: "button", class: "btn btn-primary", id: "confirm-payment", onclick: function () { confirmManual(p); } }, icon("check"), el("span", { text: t("confirm_manual") })));
    }
    if (p.status === "paid") {
      actions.appendChild(el("a", { class: "btn btn-quiet", id: "receipt-link", href: "/pay/" + encodeURIComponent(p.invoice_id) + "/receipt", target: "_blank", rel: "noopener", "aria-label": t("receipt_of", { invoice: p.invoice_id }) }, t("receipt")));
    }
    if (!cashier && p.status === "pending") {
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
    if (p.description) fact(t("description"), p.description);
    fact(t("amount"), rupiah(p.amount));
    fact(t("unique_code"), rupiah(p.unique_code));
    fact(t("total"), el("strong", { text: rupiah(p.total_amount) }));
    fact(t("created"), dateTime(p.created_at, true));
    fact(t("expires"), dateTime(p.expired_at, true));
    fact(t("paid_at"), p.paid_at ? dateTime(p.paid_at, true) : null);
    fact(t("method"), p.payment_method ? methodName(p.payment_method) : null);
    fact(t("sender"), p.sender_name);

    var qr = el("div", { class: "detail-qr" + (p.status === "pending" ? "" : " is-inactive") },
      el("img", { src: p.qr_svg_url, alt: t("qr_for", { total: rupiah(p.total_amount) }), width: "220", height: "220" }),
      el("div", { class: "detail-qr-links" },
        el("a", { class: "btn btn-quiet btn-sm", href: p.checkout_url, target: "_blank", rel: "noopener" }, icon("link"), el("span", { text: t("checkout_link") })),
        copyButton(location.origin + p.checkout_url, null, t("checkout_link"))));

    append(body, [
      el("div", { class: "detail-head" },
        el("div", null,
          el("div", { class: "muted small", text: t("detail_title") }),
          el("h1", { class: "detail-id", "data-title": t("detail_title") + " " + p.invoice_id }, el("span", { text: p.invoice_id }), " ", statusBadge(p.status)),
          el("div", { class: "detail-total money", text: rupiah(p.total_amount) })),
        actions),
      el("div", { class: "detail-grid" }, el("section", { class: "panel" }, facts), el("section", { class: "panel panel-qr" }, qr)),
      cashier ? null : el("section", { class: "panel" }, el("h2", { text: t("notifications_of") }),
        p.notifications.length ? el("ul", { class: "notif-list compact" }, p.notifications.map(function (n) { return notificationItem(n, { compact: true }); }))
          : el("p", { class: "muted", text: t("no_notifications") })),
      cashier ? null : el("section", { class: "panel" }, el("h2", { text: t("deliveries_of") }),
        p.deliveries.length ? el("div", { class: "deliveries" }, p.deliveries.map(function (d) { return deliveryCard(d, { attempts: d.attempts_log, open: true, onChange: load }); }))
          : el("p", { class: "muted", text: p.status === "paid" ? t("no_deliveries_url") : t("no_deliveries") }))
    ]);
  }

  // Refused (paid or cancelled meanwhile elsewhere, which sends no event here): the page
  // behind the dialog shows the bill as it is now, not the stale "menunggu".
  function redrawAndThrow(err) {
    load();
    throw err;
  }

  function confirmManual(p) {
    openDialog({
      title: t("confirm_manual_title"),
      body: el("p", { text: t("confirm_manual_body", { invoice: p.invoice_id, total: rupiah(p.total_amount) }) }),
      confirmText: t("confirm_manual_ok"), cancelText: t("keep"),
      action: function () { return api("POST", "payments/" + encodeURIComponent(p.invoice_id) + "/confirm").catch(redrawAndThrow); }
    }).then(function (result) {
      if (!result) return;
      toast(t("confirmed_toast", { invoice: p.invoice_id }), "ok");
      load();
    });
  }

  function cancelPayment(p) {
    openDialog({
      title: t("cancel_title"), danger: true,
      body: el("p", { text: t("cancel_body", { invoice: p.invoice_id, total: rupiah(p.total_amount) }) }),
      confirmText: t("cancel_ok"), cancelText: t("keep"),
      action: function () { return api("POST", "payments/" + encodeURIComponent(p.invoice_id) + "/cancel").catch(redrawAndThrow); }
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
