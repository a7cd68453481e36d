/* Audit log page: every action taken by hand in the dashboard and on the command line. */
import {
  append, dateTime, el, loadingBlock, pageHeader, pagedList, strings
} from "./wq.js";

var t = strings({
  id: {
    au_title: "Log audit",
    au_intro: "Setiap tindakan tangan di dasbor dan di baris perintah: siapa masuk, pembayaran yang dikonfirmasi atau dibatalkan, notifikasi yang dilampirkan, perubahan merchant, kunci yang diganti, webhook yang dikirim ulang.",
    no_audit: "Belum ada tindakan yang tercatat.", from_address: "dari {address}",
    "a_admin.login": "Masuk ke dasbor", "a_admin.logout": "Keluar dari dasbor",
    "a_admin.set_password": "Kata sandi admin diganti", "a_payment.confirm": "Pembayaran dikonfirmasi manual",
    "a_payment.cancel": "Pembayaran dibatalkan", "a_notification.attach": "Notifikasi dilampirkan ke tagihan",
    "a_merchant.create": "Merchant dibuat", "a_merchant.update": "Merchant diubah",
    "a_merchant.rotate_secret": "Kunci merchant diganti", "a_webhook.redeliver": "Webhook dikirim ulang",
    au_delivery: "Webhook #{id}", "a_wording.teach": "Kalimat notifikasi diajarkan",
    "a_wording.delete": "Kalimat yang diajarkan dihapus",
    "a_merchant.trust_app": "Aplikasi dipercaya untuk merchant",
    "a_account.create": "Akun dibuat", "a_account.update": "Akun diubah",
    "a_account.reset_password": "Kata sandi akun diatur ulang", "a_account.remove": "Akun dihapus",
    by_actor: "oleh {actor}", by_actor_from: "oleh {actor} dari {address}", au_account: "Akun {name}"
  },
  en: {
    au_title: "Audit log",
    au_intro: "Every action taken by hand in the dashboard or on the command line: sign-ins, payments confirmed or cancelled, notifications attached, merchants changed, secrets rotated, webhooks resent.",
    no_audit: "Nothing recorded yet.", from_address: "from {address}",
    "a_admin.login": "Signed in to the dashboard", "a_admin.logout": "Signed out of the dashboard",
    "a_admin.set_password": "Admin password changed", "a_payment.confirm": "Payment confirmed by hand",
    "a_payment.cancel": "Payment cancelled", "a_notification.attach": "Notification attached to a bill",
    "a_merchant.create": "Merchant created", "a_merchant.update": "Merchant changed",
    "a_merchant.rotate_secret": "Merchant secret rotated", "a_webhook.redeliver": "Webhook resent",
    au_delivery: "Webhook #{id}", "a_wording.teach": "Notification wording taught",
    "a_wording.delete": "Taught wording deleted", "a_merchant.trust_app": "App trusted for a merchant",
    "a_account.create": "Account created", "a_account.update": "Account changed",
    "a_account.reset_password": "Account password reset", "a_account.remove": "Account removed",
    by_actor: "by {actor}", by_actor_from: "by {actor} from {address}", au_account: "Account {name}"
  }
});

export function viewAudit(container) {
  var list = el("div", { class: "results" }, loadingBlock());
  var more = el("div", { class: "more" });
  append(container, [pageHeader(t("au_title"), null, t("au_intro")), list, more]);
  var pages = pagedList({
    path: "audit", results: list, more: more,
    empty: function () { return t("no_audit"); },
    render: function (rows) { return el("ol", { class: "audit-list" }, rows.map(auditEntry)); }
  });
  pages.load();
  return { refresh: function () { pages.load(); }, destroy: function () { pages.stop(); } };
}

function auditTarget(target) {
  var merchant = /^merchant:(\d+)$/.exec(target);
  if (merchant) return el("a", { href: "#/merchants/" + merchant[1], text: "Merchant #" + merchant[1] });
  var account = /^account:(.+)$/.exec(target);
  if (account) return el("span", { text: t("au_account", { name: account[1] }) });
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
    el("time", { class: "audit-time", datetime: entry.at, text: dateTime(entry.at, true) }),
    el("div", { class: "audit-main" },
      el("div", { class: "audit-what" }, el("strong", { text: label === "a_" + entry.action ? entry.action : label }), target ? " · " : null, target),
      changes.length ? el("ul", { class: "audit-changes" }, changes) : null,
      entry.actor || entry.address ? el("div", { class: "audit-address", text: whoAndWhere(entry) }) : null));
}

/* Who did it and from where, whichever of the two is known. */
function whoAndWhere(entry) {
  if (entry.actor && entry.address) return t("by_actor_from", { actor: entry.actor, address: entry.address });
  if (entry.actor) return t("by_actor", { actor: entry.actor });
  return t("from_address", { address: entry.address });
}
