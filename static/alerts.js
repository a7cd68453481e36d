/* Alerts page: where a shop's alerts go (Telegram, e-mail), which ones, in which language and
   within which opening hours; a test alert; the recent alerts with every attempt. */
import {
  api, append, clear, dateTime, el, errorBlock, errorText, field, loadMerchants, loadingBlock,
  pageHeader, rupiah, session, strings, toast
} from "./wq.js";

var t = strings({
  id: {
    al_title: "Peringatan",
    al_intro: "Kabar untuk pemilik toko lewat Telegram atau email: uang yang perlu perhatian, HP yang diam, webhook yang gagal, dan rekap harian.",
    al_shop: "Toko", al_settings: "Pengaturan peringatan untuk {shop}", al_what: "Kirim peringatan untuk",
    kind_money: "Uang perlu perhatian (tidak cocok dengan tagihan, tidak terbaca, aplikasi tidak dipercaya)",
    kind_phone: "HP diam dan HP aktif lagi", kind_webhook_failed: "Webhook yang gagal setelah semua percobaan",
    kind_payment: "Setiap pembayaran masuk", kind_recap: "Rekap harian",
    al_language: "Bahasa peringatan", lang_default: "Seperti instalasi ({lang})", lang_id: "Bahasa Indonesia", lang_en: "English",
    al_telegram: "Telegram", al_bot_token: "Token bot (dari @BotFather)", al_chat_id: "ID chat",
    al_secret_kept: "Tersimpan ({hint}). Kosongkan untuk tetap memakainya.", al_clear: "Hapus {what}",
    al_email: "Email", al_smtp_to: "Alamat email penerima", al_smtp_to_help: "Satu alamat atau beberapa, dipisah koma.",
    al_own_smtp: "Server email sendiri (kosongkan untuk memakai server instalasi)", al_smtp_host: "Server SMTP",
    al_smtp_port: "Port", al_smtp_security: "Keamanan", al_smtp_user: "Nama pengguna SMTP",
    al_smtp_server_admin_only: "Hanya admin yang dapat mengubah server dan port SMTP, karena server terhubung ke alamat ini.",
    al_smtp_own_only: "Keamanan, pengguna, kata sandi, dan alamat pengirim di sini hanya dipakai bersama server ini. Lewat server instalasi, email dikirim dengan pengaturan instalasi.",
    al_smtp_password: "Kata sandi SMTP", al_smtp_from: "Alamat pengirim",
    al_hours: "Jam buka toko", al_hours_help: "Misalnya 08:00-21:00. HP yang diam di luar jam buka tidak diperingatkan. Kosongkan bila toko buka 24 jam.",
    al_channels: "Peringatan toko ini dikirim ke: {channels}.", al_channels_own: "saluran milik toko",
    al_channels_installation: "saluran instalasi", al_no_channel: "Belum ada saluran: isi Telegram atau email agar peringatan terkirim.",
    al_save: "Simpan pengaturan", al_saving: "Menyimpan…", al_saved: "Pengaturan peringatan disimpan.",
    al_test: "Kirim peringatan tes ke {shop}", al_test_sent: "Peringatan tes dijadwalkan. Lihat hasilnya di bawah.",
    al_recent: "Peringatan terbaru {shop}", al_none: "Belum ada peringatan untuk toko ini.",
    al_state_pending: "Antre", al_state_sending: "Mengirim", al_state_sent: "Terkirim", al_state_failed: "Gagal",
    ak_money: "Uang perlu perhatian", ak_payment: "Pembayaran masuk", ak_phone_silent: "HP diam", ak_phone_back: "HP aktif lagi",
    ak_webhook_failed: "Webhook gagal", ak_recap: "Rekap harian", ak_test: "Tes", ak_replication_lag: "Replikasi tertinggal",
    al_count: "{n} kejadian", al_sum: "jumlah {sum}", al_attempts: "Percobaan ({n})", al_attempt_ok: "terkirim",
    al_no_attempts: "Belum dicoba.", al_next: "Percobaan berikut {time}", al_channel_telegram: "Telegram", al_channel_email: "Email",
    no_shops: "Belum ada toko. Tambahkan toko di halaman Toko dulu.",
    err_no_alert_channel: "Belum ada saluran peringatan: isi Telegram atau email dulu, lalu simpan."
  },
  en: {
    al_title: "Alerts",
    al_intro: "News for the shop owner on Telegram or by e-mail: money that needs attention, a silent phone, failed webhooks and a daily recap.",
    al_shop: "Shop", al_settings: "Alert settings for {shop}", al_what: "Send alerts for",
    kind_money: "Money that needs attention (matched no bill, unreadable, untrusted app)",
    kind_phone: "A phone gone silent, and back", kind_webhook_failed: "Webhooks that failed after every attempt",
    kind_payment: "Every payment received", kind_recap: "Daily recap",
    al_language: "Alert language", lang_default: "As the installation ({lang})", lang_id: "Bahasa Indonesia", lang_en: "English",
    al_telegram: "Telegram", al_bot_token: "Bot token (from @BotFather)", al_chat_id: "Chat ID",
    al_secret_kept: "Saved ({hint}). Leave empty to keep it.", al_clear: "Remove the {what}",
    al_email: "E-mail", al_smtp_to: "Recipient e-mail address", al_smtp_to_help: "One address or several, comma-separated.",
    al_own_smtp: "Own mail server (leave empty to use the installation's)", al_smtp_host: "SMTP server",
    al_smtp_port: "Port", al_smtp_security: "Security", al_smtp_user: "SMTP user name",
    al_smtp_server_admin_only: "Only an admin can change the SMTP server and port, because the server connects to them.",
    al_smtp_own_only: "The security, user, password and sender address here are used only with this server. Through the installation's server, mail goes with the installation's settings.",
    al_smtp_password: "SMTP password", al_smtp_from: "Sender address",
    al_hours: "Shop opening hours", al_hours_help: "For example 08:00-21:00. A phone silent outside opening hours is not alerted. Leave empty if the shop is open all day.",
    al_channels: "This shop's alerts go to: {channels}.", al_channels_own: "the shop's own channels",
    al_channels_installation: "the installation's channels", al_no_channel: "No channel yet: fill in Telegram or e-mail so alerts can be sent.",
    al_save: "Save settings", al_saving: "Saving…", al_saved: "Alert settings saved.",
    al_test: "Send a test alert to {shop}", al_test_sent: "Test alert queued. See the result below.",
    al_recent: "Recent alerts of {shop}", al_none: "No alerts for this shop yet.",
    al_state_pending: "Queued", al_state_sending: "Sending", al_state_sent: "Sent", al_state_failed: "Failed",
    ak_money: "Money needs attention", ak_payment: "Payment received", ak_phone_silent: "Phone silent", ak_phone_back: "Phone back",
    ak_webhook_failed: "Webhook failed", ak_recap: "Daily recap", ak_test: "Test", ak_replication_lag: "Replication behind",
    al_count: "{n} events", al_sum: "amount {sum}", al_attempts: "Attempts ({n})", al_attempt_ok: "sent",
    al_no_attempts: "Not tried yet.", al_next: "Next attempt {time}", al_channel_telegram: "Telegram", al_channel_email: "E-mail",
    no_shops: "No shops yet. Add one on the Shops page first.",
    err_no_alert_channel: "No alert channel yet: fill in Telegram or e-mail first, then save."
  }
});

var KINDS = ["money", "phone", "webhook_failed", "payment", "recap"];
/* The shop chosen last, kept while the dashboard is open. */
var chosen = { merchant_id: "" };

function input(id, attrs) {
  return el("input", Object.assign({ id: id, autocomplete: "off" }, attrs || {}));
}

function alertItem(a) {
  var facts = a.facts || {};
  var summary = [t("ak_" + a.kind), t("al_channel_" + a.channel)];
  if (a.count > 1) summary.push(t("al_count", { n: a.count }));
  if (facts.sum) summary.push(t("al_sum", { sum: rupiah(facts.sum) }));
  var attempts = a.attempts_log.length
    ? el("ol", { class: "alert-attempts" }, a.attempts_log.map(function (attempt) {
      return el("li", null, el("time", { datetime: attempt.attempted_at, text: dateTime(attempt.attempted_at, true) }),
        el("span", { class: attempt.error ? "error-text" : "muted", text: " " + (attempt.error || t("al_attempt_ok")) + " · " + attempt.duration_ms + " ms" }));
    }))
    : el("p", { class: "muted small", text: t("al_no_attempts") });
  var badgeClass = a.state === "sent" ? "ds-delivered" : a.state === "failed" ? "ds-failed" : "ds-pending";
  return el("li", { class: "alert-row", "data-id": String(a.id), "data-state": a.state, "data-kind": a.kind },
    el("div", { class: "delivery-head" },
      el("span", { class: "badge " + badgeClass, text: t("al_state_" + a.state) }),
      el("span", { text: summary.join(" · ") }),
      el("time", { class: "muted", datetime: a.created_at, text: dateTime(a.created_at, true) })),
    a.last_error && a.state !== "sent" ? el("p", { class: "error-text", text: a.last_error }) : null,
    a.next_attempt_at && a.attempts ? el("p", { class: "muted small", text: t("al_next", { time: dateTime(a.next_attempt_at, true) }) }) : null,
    el("details", null, el("summary", { text: t("al_attempts", { n: a.attempts_log.length }) }), attempts));
}

function settingsForm(merchant, data, onSaved, onTested) {
  var form = el("form", { class: "card form alert-settings", novalidate: true });
  var kinds = el("fieldset", { class: "checks" }, el("legend", { text: t("al_what") }),
    KINDS.map(function (kind) {
      var box = el("input", { type: "checkbox", id: "ak-" + kind, name: kind, checked: !!data.kinds[kind] });
      return el("div", { class: "check" }, box, el("label", { for: "ak-" + kind, text: t("kind_" + kind) }));
    }));
  var language = el("select", { id: "al-language" },
    el("option", { value: "", text: t("lang_default", { lang: t("lang_" + data.language_used) }) }),
    el("option", { value: "id", text: t("lang_id") }), el("option", { value: "en", text: t("lang_en") }));
  language.value = data.language || "";
  var token = input("al-bot-token", { type: "password", placeholder: data.telegram_bot_token || "" });
  var chat = input("al-chat-id", { value: data.telegram_chat_id || "", inputmode: "text" });
  var to = input("al-smtp-to", { type: "text", value: data.smtp_to || "", inputmode: "email", "aria-describedby": "al-smtp-to-help" });
  // The server refuses a mail server from anyone but an admin (it connects there).
  var serverAdminOnly = Boolean(session.account && session.account.role !== "admin");
  var serverHelp = serverAdminOnly ? { readonly: true, "aria-describedby": "al-smtp-server-help" } : {};
  var host = input("al-smtp-host", Object.assign({ value: data.smtp_host || "" }, serverHelp));
  var port = input("al-smtp-port", Object.assign({ type: "number", min: "1", max: "65535", value: data.smtp_port || "" }, serverHelp));
  var security = el("select", { id: "al-smtp-security" }, el("option", { value: "", text: "–" }),
    ["starttls", "tls", "none"].map(function (s) { return el("option", { value: s, text: s.toUpperCase() }); }));
  security.value = data.smtp_security || "";
  var user = input("al-smtp-user", { value: data.smtp_user || "" });
  var password = input("al-smtp-password", { type: "password", placeholder: data.smtp_password || "" });
  var from = input("al-smtp-from", { value: data.smtp_from || "", inputmode: "email" });
  var hours = input("al-hours", { value: data.opening_hours || "", placeholder: "08:00-21:00", "aria-describedby": "al-hours-help" });
  var clearToken = null;
  if (data.telegram_bot_token) {
    clearToken = el("button", { type: "button", class: "btn btn-quiet btn-sm" }, t("al_clear", { what: t("al_bot_token") }));
    clearToken.addEventListener("click", function () { save({ telegram_bot_token: null }); });
  }
  var channels = data.channels.length
    ? t("al_channels", { channels: data.channels.map(function (c) { return t("al_channel_" + c); }).join(", ") + " (" + t(data.own_channels ? "al_channels_own" : "al_channels_installation") + ")" })
    : t("al_no_channel");
  var submit = el("button", { type: "submit", class: "btn btn-primary" }, t("al_save"));
  // A refusal stays beside the button until the next save: a toast was gone in 6 s.
  var problem = el("p", { class: "form-error", id: "al-problem", role: "alert", hidden: true });
  var test = el("button", { type: "button", class: "btn btn-quiet", id: "al-test" }, t("al_test", { shop: merchant.name }));
  append(form, [
    el("h2", { text: t("al_settings", { shop: merchant.name }) }),
    el("p", { class: data.channels.length ? "muted" : "callout callout-warn", id: "al-channels", text: channels }),
    kinds,
    field(t("al_language"), language, "al-language"),
    el("fieldset", null, el("legend", { text: t("al_telegram") }),
      field(t("al_bot_token"), token, "al-bot-token"),
      data.telegram_bot_token ? el("p", { class: "muted small", text: t("al_secret_kept", { hint: data.telegram_bot_token }) }) : null,
      clearToken,
      field(t("al_chat_id"), chat, "al-chat-id")),
    el("fieldset", null, el("legend", { text: t("al_email") }),
      field(t("al_smtp_to"), to, "al-smtp-to"), el("p", { class: "muted small", id: "al-smtp-to-help", text: t("al_smtp_to_help") }),
      el("details", { open: !!data.smtp_host || null }, el("summary", { text: t("al_own_smtp") }),
        el("p", { class: "muted small", id: "al-smtp-own-help", text: t("al_smtp_own_only") }),
        field(t("al_smtp_host"), host, "al-smtp-host"), field(t("al_smtp_port"), port, "al-smtp-port"),
        serverAdminOnly ? el("p", { class: "muted small", id: "al-smtp-server-help", text: t("al_smtp_server_admin_only") }) : null,
        field(t("al_smtp_security"), security, "al-smtp-security"), field(t("al_smtp_user"), user, "al-smtp-user"),
        field(t("al_smtp_password"), password, "al-smtp-password"),
        data.smtp_password ? el("p", { class: "muted small", text: t("al_secret_kept", { hint: data.smtp_password }) }) : null,
        field(t("al_smtp_from"), from, "al-smtp-from"))),
    field(t("al_hours"), hours, "al-hours"), el("p", { class: "muted small", id: "al-hours-help", text: t("al_hours_help") }),
    problem,
    el("div", { class: "form-actions" }, submit, test)]);

  function save(changes) {
    submit.disabled = true;
    submit.textContent = t("al_saving");
    problem.hidden = true;
    return api("PATCH", "merchants/" + merchant.id + "/alerts", changes).then(function () {
      toast(t("al_saved"), "ok");
      onSaved();
    }, function (err) {
      problem.textContent = errorText(err);
      problem.hidden = false;
    }).then(function () {
      submit.disabled = false;
      submit.textContent = t("al_save");
    });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var changes = { language: language.value || null, telegram_chat_id: chat.value.trim() || null,
      smtp_to: to.value.trim() || null, smtp_host: host.value.trim() || null,
      smtp_port: port.value ? Number(port.value) : null, smtp_security: security.value || null,
      smtp_user: user.value.trim() || null, smtp_from: from.value.trim() || null,
      opening_hours: hours.value.trim() || null, kinds: {} };
    // A secret field left empty keeps the stored secret (it is never sent back to the page).
    if (token.value.trim()) changes.telegram_bot_token = token.value.trim();
    if (password.value) changes.smtp_password = password.value;
    KINDS.forEach(function (kind) { changes.kinds[kind] = form.querySelector("#ak-" + kind).checked; });
    save(changes);
  });
  test.addEventListener("click", function () {
    test.disabled = true;
    problem.hidden = true;
    api("POST", "merchants/" + merchant.id + "/alerts/test").then(function () {
      toast(t("al_test_sent"), "ok");
      onTested();
    }, function (err) {
      // Beside the buttons, as a refused save is: a toast faded before it was read.
      problem.textContent = errorText(err);
      problem.hidden = false;
    }).then(function () { test.disabled = false; });
  });
  return form;
}

export function viewAlerts(container) {
  var alive = true;
  // A shop's card links here with its id (#/alerts?merchant=3).
  var asked = /(?:^|&)merchant=(\d+)/.exec(location.hash.split("?")[1] || "");
  if (asked) chosen.merchant_id = asked[1];
  var shopSelect = el("select", { id: "al-shop" });
  var body = el("div", { class: "alerts-body" }, loadingBlock());
  append(container, [pageHeader(t("al_title"), null, t("al_intro")),
    el("div", { class: "filters filters-2" }, field(t("al_shop"), shopSelect, "al-shop")), body]);
  var merchants = [];

  function current() {
    return merchants.filter(function (m) { return String(m.id) === shopSelect.value; })[0];
  }

  var list = el("div");

  function loadList() {
    var merchant = current();
    if (!merchant) return Promise.resolve();
    return api("GET", "alerts?limit=30&merchant_id=" + merchant.id).then(function (answer) {
      if (!alive || current() !== merchant) return;
      var rows = answer.data;
      clear(list).appendChild(el("section", { class: "card", "aria-labelledby": "al-recent" },
        el("h2", { id: "al-recent", text: t("al_recent", { shop: merchant.name }) }),
        rows.length ? el("ul", { class: "alert-list" }, rows.map(alertItem)) : el("p", { class: "empty-state", text: t("al_none") })));
    }, function (err) { if (alive) clear(list).appendChild(errorBlock(err, loadList)); });
  }

  function load() {
    var merchant = current();
    if (!merchant) return Promise.resolve();
    return api("GET", "merchants/" + merchant.id + "/alerts").then(function (answer) {
      if (!alive || current() !== merchant) return;
      clear(body);
      append(body, [settingsForm(merchant, answer.data, load, loadList), list]);
      return loadList();
    }, function (err) { if (alive) clear(body).appendChild(errorBlock(err, load)); });
  }

  loadMerchants().then(function (found) {
    if (!alive) return;
    merchants = found;
    if (!found.length) { clear(body).appendChild(el("p", { class: "empty-state", text: t("no_shops") })); return; }
    found.forEach(function (m) { shopSelect.appendChild(el("option", { value: String(m.id), text: m.name })); });
    shopSelect.value = chosen.merchant_id || String(found[0].id);
    if (!current()) shopSelect.value = String(found[0].id);
    load();
  }, function (err) { if (alive) clear(body).appendChild(errorBlock(err)); });
  shopSelect.addEventListener("change", function () { chosen.merchant_id = shopSelect.value; load(); });

  // Sending happens in the background without an event: look again while one is on its way
  // (the list only: the form may hold what the owner is typing).
  var poll = setInterval(function () {
    if (!document.hidden && list.querySelector('[data-state="pending"], [data-state="sending"]')) loadList();
  }, 2000);
  return { refresh: load, destroy: function () { alive = false; clearInterval(poll); } };
}
