/* Audit log page: every action taken by hand in the dashboard and on the command line. */
import {
  append, dateTime, el, loadingBlock, pageHeader, pagedList, strings
} from "./wq.js";

var t = strings({
  id: {
    au_title: "Log audit",
    au_intro: "Setiap tindakan yang dilakukan orang di dasbor dan di baris perintah: siapa masuk, tagihan yang ditandai lunas atau dibatalkan, notifikasi yang dilampirkan, perubahan toko, kunci yang diganti, webhook yang dikirim ulang.",
    no_audit: "Belum ada tindakan yang tercatat.", from_address: "dari {address}", from_cli: "dari baris perintah",
    "a_admin.login": "Masuk ke dasbor", "a_admin.logout": "Keluar dari dasbor",
    "a_admin.set_password": "Kata sandi admin diganti", "a_payment.confirm": "Tagihan ditandai lunas secara manual",
    "a_payment.cancel": "Tagihan dibatalkan", "a_notification.attach": "Notifikasi dilampirkan ke tagihan",
    "a_notification.resolve": "Notifikasi diselesaikan tanpa tagihan", "a_notification.reopen": "Notifikasi dibuka lagi",
    "a_merchant.create": "Toko dibuat", "a_merchant.update": "Toko diubah",
    "a_merchant.rotate_secret": "Kunci rahasia toko diganti", "a_webhook.redeliver": "Webhook dikirim ulang",
    au_delivery: "Webhook #{id}", au_merchant: "Toko #{id}", "a_wording.teach": "Kalimat notifikasi diajarkan",
    "a_wording.delete": "Kalimat yang diajarkan dihapus", "a_wording.import": "Kalimat notifikasi diimpor",
    "a_merchant.alerts": "Pengaturan peringatan toko diubah",
    "a_merchant.trust_app": "Aplikasi dipercaya untuk toko",
    "a_account.create": "Akun dibuat", "a_account.update": "Akun diubah",
    "a_account.reset_password": "Kata sandi akun diatur ulang", "a_account.remove": "Akun dihapus",
    by_actor: "oleh {actor}", by_actor_from: "oleh {actor} dari {address}", au_account: "Akun {name}",
    by_actor_cli: "oleh {actor} dari baris perintah"
  },
  en: {
    au_title: "Audit log",
    au_intro: "Every action a person took in the dashboard or on the command line: sign-ins, bills marked paid or cancelled, notifications attached, shops changed, secrets rotated, webhooks resent.",
    no_audit: "Nothing recorded yet.", from_address: "from {address}", from_cli: "from the command line",
    "a_admin.login": "Signed in to the dashboard", "a_admin.logout": "Signed out of the dashboard",
    "a_admin.set_password": "Admin password changed", "a_payment.confirm": "Bill marked paid by hand",
    "a_payment.cancel": "Bill cancelled", "a_notification.attach": "Notification attached to a bill",
    "a_notification.resolve": "Notification resolved without a bill", "a_notification.reopen": "Notification reopened",
    "a_merchant.create": "Shop created", "a_merchant.update": "Shop changed",
    "a_merchant.rotate_secret": "Shop secret rotated", "a_webhook.redeliver": "Webhook resent",
    au_delivery: "Webhook #{id}", au_merchant: "Shop #{id}", "a_wording.teach": "Notification wording taught",
    "a_wording.delete": "Taught wording deleted", "a_wording.import": "Notification wordings imported",
    "a_merchant.alerts": "Shop alert settings changed", "a_merchant.trust_app": "App trusted for a shop",
    "a_account.create": "Account created", "a_account.update": "Account changed",
    "a_account.reset_password": "Account password reset", "a_account.remove": "Account removed",
    by_actor: "by {actor}", by_actor_from: "by {actor} from {address}", au_account: "Account {name}",
    by_actor_cli: "by {actor} from the command line"
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
  if (merchant) return el("a", { href: "#/merchants/" + merchant[1], text: t("au_merchant", { id: merchant[1] }) });
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
  return el("li", { class: "audit-entry", "data-action": entry.action, "data-key": "audit-" + entry.id },
    el("time", { class: "audit-time", datetime: entry.at, text: dateTime(entry.at, true) }),
    el("div", { class: "audit-main" },
      el("div", { class: "audit-what" }, el("strong", { text: label === "a_" + entry.action ? entry.action : label }), target ? " · " : null, target),
      changes.length ? el("ul", { class: "audit-changes" }, changes) : null,
      entry.actor || entry.address ? el("div", { class: "audit-address", text: whoAndWhere(entry) }) : null));
}

/* Who did it and from where, whichever of the two is known. */
function whoAndWhere(entry) {
  var cli = entry.address === "command line";
  if (entry.actor && entry.address) return cli ? t("by_actor_cli", { actor: entry.actor }) : t("by_actor_from", { actor: entry.actor, address: entry.address });
  if (entry.actor) return t("by_actor", { actor: entry.actor });
  return cli ? t("from_cli") : t("from_address", { address: entry.address });
}
