/* Overview page: today's money, the inbox count, fourteen days as bars and the live feed. */
import {
  api, append, clear, dateOnly, debounce, el, errorBlock, keepFocus, loadingBlock, methodName,
  pageHeader, plural, qs, rupiah, session, strings, timeOnly, toDate
} from "./wq.js";

var t = strings({
  id: {
    ov_today: "Hari ini", ov_today_sum: "Uang masuk hari ini", ov_today_count: "Tagihan lunas hari ini",
    ov_attention: "Notifikasi perlu perhatian", ov_attention_none: "Semua beres",
    ov_attention_some: "Uang masuk tanpa tagihan yang cocok: periksa dan lampirkan.",
    ov_chart: "14 hari terakhir", ov_chart_label: "Uang masuk per hari selama 14 hari terakhir",
    ov_day_detail: "{date}: {sum} dari {count} tagihan lunas", ov_day_detail_one: "{date}: {sum} dari 1 tagihan lunas",
    ov_feed: "Aktivitas langsung",
    ov_feed_empty: "Belum ada aktivitas. Tagihan baru dan pembayaran muncul di sini saat terjadi.",
    ov_all_payments: "Lihat semua tagihan", feed_new: "Tagihan baru {total}", feed_paid: "Lunas {total}",
    feed_expired: "{count} tagihan kedaluwarsa", feed_expired_one: "1 tagihan kedaluwarsa",
    feed_webhook: "Webhook terkirim", feed_cancelled: "Dibatalkan {total}", feed_pending: "Menunggu {total}",
    feed_expired_bill: "Kedaluwarsa {total}", feed_attention: "Uang masuk {total} tanpa tagihan",
    news_paid: "Uang masuk: tagihan {total} lunas.", news_paid_shop: "Uang masuk: tagihan {total} di {merchant} lunas.",
    news_attention: "Uang masuk {total} tanpa tagihan yang cocok: lihat kotak masuk."
  },
  en: {
    ov_today: "Today", ov_today_sum: "Money in today", ov_today_count: "Bills paid today",
    ov_attention: "Notifications needing attention", ov_attention_none: "All clear",
    ov_attention_some: "Money arrived with no matching bill: check and attach it.", ov_chart: "Last 14 days",
    ov_chart_label: "Money received per day over the last 14 days",
    ov_day_detail: "{date}: {sum} from {count} paid bills", ov_day_detail_one: "{date}: {sum} from 1 paid bill",
    ov_feed: "Live activity",
    ov_feed_empty: "No activity yet. New bills and payments show up here as they happen.",
    ov_all_payments: "See all bills", feed_new: "New bill {total}", feed_paid: "Paid {total}",
    feed_expired: "{count} bills expired", feed_expired_one: "1 bill expired", feed_webhook: "Webhook delivered",
    feed_cancelled: "Cancelled {total}", feed_pending: "Pending {total}", feed_expired_bill: "Expired {total}",
    feed_attention: "Money in {total}, no bill",
    news_paid: "Money in: the {total} bill is paid.", news_paid_shop: "Money in: the {total} bill at {merchant} is paid.",
    news_attention: "Money in: {total} matches no bill; see the inbox."
  }
});

/* The live feed lasts while the owner is logged in: events that arrive on any page, then the
   recent payments the overview fills in behind them. */
var feed = [];

export function rememberEvent(event) {
  var item = feedItemFromEvent(event);
  if (item) {
    feed.unshift(item);
    if (feed.length > 40) feed.length = 40;
  }
}

export function forgetFeed() { feed = []; }

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
    var kind = p.status === "paid" ? "paid" : p.status === "pending" ? "pending" : p.status === "cancelled" ? "cancelled" : "expired_bill";
    var at = toDate(p.status === "paid" ? p.paid_at : p.created_at);
    return { kind: kind, at: at ? at.getTime() : 0, invoice: p.invoice_id, total: p.total_amount, merchant: p.merchant_name, sender: p.sender_name, method: p.payment_method };
  });
}

function feedRow(item) {
  var text;
  if (item.kind === "new") text = t("feed_new", { total: rupiah(item.total) });
  else if (item.kind === "paid") text = t("feed_paid", { total: rupiah(item.total) });
  else if (item.kind === "expired") text = plural(t, "feed_expired", item.count);
  else if (item.kind === "webhook") text = t("feed_webhook") + (item.event ? " · " + item.event : "");
  else if (item.kind === "attention") text = item.total != null ? t("feed_attention", { total: rupiah(item.total) }) : t("feed_attention_unparsed");
  else if (item.kind === "pending") text = t("feed_pending", { total: rupiah(item.total) });
  else if (item.kind === "cancelled") text = t("feed_cancelled", { total: rupiah(item.total) });
  else text = t("feed_expired_bill", { total: rupiah(item.total) });
  var meta = [];
  if (item.merchant) meta.push(item.merchant);
  if (item.sender) meta.push(t("from_sender", { name: item.sender }));
  if (item.kind === "paid" && item.method) meta.push(methodName(item.method));
  if (item.invoice) meta.push(item.invoice);
  var body = el("div", { class: "feed-body" }, el("div", { class: "feed-text", text: text }), meta.length ? el("div", { class: "feed-meta", text: meta.join(" · ") }) : null);
  var content = [el("span", { class: "feed-dot feed-" + item.kind, "aria-hidden": "true" }), body,
    el("time", { class: "feed-time", datetime: new Date(item.at).toISOString(), text: timeOnly(item.at) })];
  var key = { "data-key": item.kind + "-" + (item.invoice || item.at) };
  if (item.invoice) return el("li", key, el("a", { class: "feed-item", href: "#/payments/" + encodeURIComponent(item.invoice) }, content));
  if (item.kind === "attention") return el("li", key, el("a", { class: "feed-item", href: "#/notifications" }, content));
  return el("li", key, el("div", { class: "feed-item" }, content));
}

/* What the feed's live region says about an event: only money coming in. */
function newsOf(event) {
  var d = event.data || {};
  if (event.event === "payment_paid") {
    return d.merchant_name ? t("news_paid_shop", { total: rupiah(d.total_amount), merchant: d.merchant_name })
      : t("news_paid", { total: rupiah(d.total_amount) });
  }
  if (event.event === "notification_needs_attention" && d.parsed_amount != null) {
    return t("news_attention", { total: rupiah(d.parsed_amount) });
  }
  if (event.event === "notification_needs_attention") return t("feed_attention_unparsed");
  return null;
}

export function viewOverview(container) {
  var alive = true;
  var cards = el("div", { class: "cards" });
  var chartBox = el("section", { class: "panel chart-panel" }, el("h2", { text: t("ov_chart") }), loadingBlock());
  var feedList = el("ul", { class: "feed", id: "feed" });
  // The list redraws whole; a separate polite region says only what is new.
  var news = el("p", { class: "sr-only", id: "feed-news", role: "status" });
  var feedPanel = el("section", { class: "panel feed-panel" },
    el("div", { class: "panel-head" }, el("h2", { text: t("ov_feed") }), el("a", { href: "#/payments", class: "link-more", text: t("ov_all_payments") })),
    news, feedList);
  append(container, [pageHeader(t("nav_overview")), cards, el("div", { class: "overview-grid" }, chartBox, feedPanel)]);

  function renderCards(data) {
    clear(cards);
    append(cards, [
      el("div", { class: "stat stat-money" },
        el("div", { class: "stat-label", text: t("ov_today_sum") }),
        el("div", { class: "stat-value", id: "today-sum", text: rupiah(data.today.sum) }),
        el("div", { class: "stat-sub", text: dateOnly(new Date(), { weekday: "long", day: "numeric", month: "long" }) })),
      el("div", { class: "stat" },
        el("div", { class: "stat-label", text: t("ov_today_count") }),
        el("div", { class: "stat-value", id: "today-count", text: String(data.today.count) }),
        el("div", { class: "stat-sub", text: t("ov_today") })),
      el("a", { class: "stat stat-link" + (session.attention ? " stat-attention" : ""), href: "#/notifications?needs_attention" },
        el("div", { class: "stat-label", text: t("ov_attention") }),
        el("div", { class: "stat-value", text: String(session.attention) }),
        el("div", { class: "stat-sub", text: session.attention ? t("ov_attention_some") : t("ov_attention_none") }))
    ]);
  }

  /* The fourteen days are one slider: a single Tab stop whose arrows walk the days (fourteen
     buttons were fourteen Tabs, each 19 px wide on a phone, under the 24 px a finger needs);
     a tap or a hover anywhere over the chart picks the day under it. The chart is redrawn
     with every payment: the chosen day and the keyboard's focus stay. */
  var chosenDay = null;
  function renderChart(days) {
    var hadFocus = chartBox.contains(document.activeElement);
    clear(chartBox);
    var max = Math.max.apply(null, days.map(function (d) { return d.sum; }).concat([1]));
    var detail = el("p", { class: "chart-detail", "aria-hidden": "true" });
    var chart = el("div", { class: "chart", id: "chart", role: "slider", tabindex: "0", "aria-label": t("ov_chart_label"),
      "aria-valuemin": "1", "aria-valuemax": String(days.length) });
    function describe(day) {
      var date = dateOnly(day.date + "T12:00:00", { weekday: "short", day: "numeric", month: "short" });
      return plural(t, "ov_day_detail", day.count, { date: date, sum: rupiah(day.sum) });
    }
    var columns = days.map(function (day, index) {
      var isToday = index === days.length - 1;
      var bar = el("span", { class: "bar" + (day.sum ? "" : " bar-empty") });
      bar.style.height = (day.sum ? Math.max(3, (day.sum / max) * 100) : 0) + "%";
      var d = new Date(day.date + "T12:00:00");
      var column = el("div", { class: "bar-col" + (isToday ? " is-today" : ""), "aria-hidden": "true", title: describe(day) },
        el("span", { class: "bar-track" }, bar),
        el("span", { class: "bar-label", text: String(d.getDate()) }));
      column.addEventListener("mouseenter", function () { choose(index); });
      column.addEventListener("click", function () { choose(index); });
      chart.appendChild(column);
      return column;
    });
    function choose(index) {
      chosenDay = days[index].date;
      columns.forEach(function (column, i) { column.classList.toggle("is-chosen", i === index); });
      chart.setAttribute("aria-valuenow", String(index + 1));
      chart.setAttribute("aria-valuetext", describe(days[index]));
      detail.textContent = describe(days[index]);
    }
    function chosenIndex() { return Number(chart.getAttribute("aria-valuenow")) - 1; }
    chart.addEventListener("keydown", function (event) {
      var steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -7, PageUp: 7 };
      var index = event.key === "Home" ? 0 : event.key === "End" ? days.length - 1
        : steps[event.key] ? Math.max(0, Math.min(days.length - 1, chosenIndex() + steps[event.key])) : null;
      if (index === null) return;
      event.preventDefault();
      choose(index);
    });
    var kept = days.map(function (d) { return d.date; }).indexOf(chosenDay);
    choose(kept >= 0 ? kept : days.length - 1);
    var total = days.reduce(function (a, d) { return a + d.sum; }, 0);
    var count = days.reduce(function (a, d) { return a + d.count; }, 0);
    append(chartBox, [
      el("div", { class: "panel-head" }, el("h2", { text: t("ov_chart") }), el("span", { class: "muted small", text: rupiah(total) + " · " + count + "×" })),
      el("div", { class: "chart-wrap" }, el("div", { class: "chart-max muted small", text: rupiah(max === 1 ? 0 : max) }), chart),
      detail
    ]);
    if (hadFocus) chart.focus();
  }

  function renderFeed() {
    keepFocus(feedList, drawFeed);
  }
  function drawFeed() {
    clear(feedList);
    if (!feed.length) {
      feedList.appendChild(el("li", { class: "empty", text: t("ov_feed_empty") }));
      return;
    }
    feed.slice(0, 25).forEach(function (item) { feedList.appendChild(feedRow(item)); });
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
        feed.forEach(function (f) { if (f.invoice) known[f.invoice] = true; });
        feedItemsFromRecent(data.recent).forEach(function (f) { if (!known[f.invoice]) feed.push(f); });
        feed.sort(function (a, b) { return b.at - a.at; });
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
    onEvent: function (event) {
      var said = newsOf(event);
      if (said) news.textContent = said;
      renderFeed();
      reload();
    },
    announcesMoney: true,
    onAttention: function () { reload(); },
    refresh: load,
    destroy: function () { alive = false; reload.cancel(); }
  };
}
