/* WebQRIS dashboard shell: the login form, the menu, the live indicator and the socket that
   feeds every page, and the hash router that opens one page module at a time over /admin/api.
   ES modules, no build step, strict CSP (no inline code or style attributes). */
import {
  $, api, append, clear, debounce, el, errorText, focusHeading, icon, liveSocket, onLangChange,
  rupiah, session, strings, toast, toggleLang
} from "./wq.js";
import { forgetFeed, rememberEvent, viewOverview } from "./overview.js";
import { viewPaymentDetail, viewPayments } from "./payments.js";
import { viewNotifications } from "./notifications.js";
import { viewMerchantForm, viewMerchants } from "./merchants.js";
import { viewWebhooks } from "./webhooks.js";
import { viewAudit } from "./audit.js";
import { openPasswordDialog, roleName, viewAccounts } from "./accounts.js";
import { viewAlerts } from "./alerts.js";
import { viewLinks } from "./links.js";

var t = strings({
  id: {
    switch_lang: "English", switch_lang_short: "EN", switch_lang_label: "Ganti bahasa ke English",
    skip_to_content: "Langsung ke isi halaman", login_page: "Masuk",
    login_title: "Masuk ke dasbor", login_sub: "Pantau pembayaran QRIS toko Anda secara langsung.",
    username: "Nama pengguna", password: "Kata sandi", login: "Masuk", logging_in: "Memeriksa…", logout: "Keluar",
    wrong_password: "Nama pengguna atau kata sandi salah. Coba lagi.", password_required: "Isi kata sandi dulu.",
    nav_accounts: "Akun", nav_more: "Lainnya", my_password: "Kata sandi", my_password_label: "Ganti kata sandi {name} ({role})",
    live_on: "Langsung", live_off: "Terputus", live_connecting: "Menyambung…", nav_notifications: "Kotak masuk",
    nav_audit: "Log audit", nav_merchants: "Toko", nav_webhooks: "Webhook", nav_alerts: "Peringatan",
    toast_paid: "Tagihan {total} di {merchant} lunas.", toast_paid_no_shop: "Tagihan {total} lunas.",
    toast_attention: "Uang masuk {total} di {merchant} tidak cocok dengan tagihan mana pun. Lihat kotak masuk.",
    toast_attention_no_shop: "Uang masuk {total} tidak cocok dengan tagihan mana pun. Lihat kotak masuk.",
    toast_unparsed: "Notifikasi tanpa nominal di {merchant}. Lihat kotak masuk.",
    toast_unparsed_no_shop: "Notifikasi tanpa nominal. Lihat kotak masuk.",
    toast_app_not_accepted: "{total} dari {app} tidak melunasi apa pun: toko belum memercayai aplikasi ini. Lihat kotak masuk.",
    unnamed_app: "aplikasi tanpa nama"
  },
  en: {
    switch_lang: "Bahasa Indonesia", switch_lang_short: "ID",
    skip_to_content: "Skip to the page content", login_page: "Sign in",
    switch_lang_label: "Switch language to Bahasa Indonesia", login_title: "Sign in to the dashboard",
    login_sub: "Watch your shop's QRIS payments arrive live.", username: "Username", password: "Password", login: "Sign in",
    logging_in: "Checking…", logout: "Sign out", wrong_password: "Wrong username or password. Try again.",
    nav_accounts: "Accounts", nav_more: "More", my_password: "Password", my_password_label: "Change the password of {name} ({role})",
    password_required: "Enter the password first.", live_on: "Live", live_off: "Offline",
    live_connecting: "Connecting…", nav_notifications: "Inbox", nav_audit: "Audit log",
    nav_merchants: "Shops", nav_webhooks: "Webhooks", nav_alerts: "Alerts",
    toast_paid: "The {total} bill at {merchant} is paid.", toast_paid_no_shop: "The {total} bill is paid.",
    toast_attention: "{total} came in at {merchant} but matches no bill. See the inbox.",
    toast_attention_no_shop: "{total} came in but matches no bill. See the inbox.",
    toast_unparsed: "A notification without an amount at {merchant}. See the inbox.",
    toast_unparsed_no_shop: "A notification without an amount. See the inbox.",
    toast_app_not_accepted: "{total} from {app} paid nothing: the shop does not trust this app yet. See the inbox.",
    unnamed_app: "an unnamed app"
  }
});

/* What the shell holds while the owner is logged in: the open page and the socket. */
var shell = { view: null, socket: null, attentionTimer: null };

function applyStaticText() {
  Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
    node.textContent = t(node.getAttribute("data-i18n"));
  });
  // Named by what it shows ("EN"), as speech input users say it; the title tells what it does.
  Array.prototype.forEach.call(document.querySelectorAll(".lang-toggle"), function (node) {
    node.setAttribute("title", t("switch_lang_label"));
  });
  if (!session.loggedIn) document.title = t("login_page") + " · WebQRIS";
  // On a phone the top bar has room for the key alone; its name says the rest.
  append(clear($("my-password")), [icon("key"), el("span", { class: "narrow-hide", text: t("my_password") })]);
  if (session.account) {
    $("my-password").setAttribute("aria-label", t("my_password_label", { name: session.account.username, role: roleName(session.account.role) }));
  }
  renderNav();
  setLive(shell.socket ? shell.socket.state() : "off");
}

function showLogin() {
  $("boot").hidden = true;
  $("shell").hidden = true;
  $("login-screen").hidden = false;
  $("login-password").value = "";
  // The name last used in this browser (a shop's tablet is its cashier's); "admin" at first, so
  // a shop with only the admin account types its password alone.
  try { $("login-username").value = localStorage.getItem(USERNAME) || "admin"; } catch (e) { /* ignore */ }
  document.title = t("login_page") + " · WebQRIS";
  // Now, in the task that shows the form: focus moved a task later took typing already begun
  // in the username into the password field.
  $("login-password").focus();
}

var MARKER = "webqris.session";
var USERNAME = "webqris.username";
function setMarker(on) {
  try { if (on) localStorage.setItem(MARKER, "1"); else localStorage.removeItem(MARKER); } catch (e) { /* ignore */ }
}
function hasMarker() {
  try { return localStorage.getItem(MARKER) === "1"; } catch (e) { return true; }
}

function loggedIn(answer) {
  setMarker(true);
  session.csrf = answer.csrf_token;
  session.demo = !!answer.demo;
  session.secretOverlap = Number(answer.webhook_secret_overlap_seconds) || 0;
  session.account = answer.account || null;
  session.loggedIn = true;
  applyStaticText();
  $("boot").hidden = true;
  $("login-screen").hidden = true;
  $("shell").hidden = false;
  $("demo-badge").hidden = !session.demo;
  if (!shell.socket) {
    shell.socket = liveSocket({
      state: setLive,
      event: handleEvent,
      reopened: function () { if (shell.view && shell.view.refresh) shell.view.refresh(); }
    });
  }
  refreshAttention();
  if (shell.attentionTimer) clearInterval(shell.attentionTimer);
  shell.attentionTimer = setInterval(refreshAttention, 30000);
  route();
}

function loggedOut() {
  setMarker(false);
  session.loggedIn = false;
  session.csrf = null;
  session.account = null;
  session.merchants = null;
  session.merchantsPromise = null;
  forgetFeed();
  if (shell.attentionTimer) clearInterval(shell.attentionTimer);
  if (shell.socket) shell.socket.close();
  shell.socket = null;
  setLive("off");
  destroyView();
  clear($("view"));
  showLogin();
}

function setupLogin() {
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("login-username").value.trim() || "admin";
    var password = $("login-password").value;
    var error = $("login-error");
    var button = $("login-submit");
    error.hidden = true;
    if (!password) {
      error.textContent = t("password_required");
      error.hidden = false;
      return;
    }
    button.disabled = true;
    button.textContent = t("logging_in");
    api("POST", "login", { username: username, password: password }).then(function (body) {
      try { localStorage.setItem(USERNAME, username); } catch (e) { /* private mode */ }
      // Sent here from the cashier page: back there once signed in.
      if (new URLSearchParams(location.search).get("next") === "kasir") {
        location.assign("/kasir");
        return null;
      }
      return api("GET", "session").then(function (answer) {
        answer.csrf_token = answer.csrf_token || body.csrf_token;
        loggedIn(answer);
      });
    }).catch(function (err) {
      error.textContent = err.status === 401 ? t("wrong_password") : errorText(err);
      error.hidden = false;
      $("login-password").select();
    }).then(function () {
      button.disabled = false;
      button.textContent = t("login");
    });
  });
  $("my-password").addEventListener("click", function () { openPasswordDialog(); });
  $("logout").addEventListener("click", function () {
    api("POST", "logout").catch(function () { return null; }).then(loggedOut);
  });
  Array.prototype.forEach.call(document.querySelectorAll(".lang-toggle"), function (node) {
    node.addEventListener("click", function () { toggleLang(); });
  });
  // The skip link must not touch the hash: the hash is the page's address here.
  $("skip-link").addEventListener("click", function (event) {
    event.preventDefault();
    focusHeading();
  });
}

/* The pages each role may open: the server refuses the rest, the menu does not offer them. */
var MANAGE = ["admin", "manager"];
var NAV = [
  { route: "overview", icon: "overview", label: "nav_overview", roles: MANAGE },
  { route: "payments", icon: "payments", label: "nav_payments", roles: ["admin", "manager", "cashier"] },
  { route: "notifications", icon: "notifications", label: "nav_notifications", roles: MANAGE },
  { route: "merchants", icon: "merchants", label: "nav_merchants", roles: MANAGE },
  { route: "webhooks", icon: "webhooks", label: "nav_webhooks", roles: MANAGE },
  { route: "alerts", icon: "warn", label: "nav_alerts", roles: MANAGE },
  { route: "audit", icon: "audit", label: "nav_audit", roles: MANAGE },
  { route: "accounts", icon: "accounts", label: "nav_accounts", roles: ["admin"] },
  // Opened from the payments screen's header, not from the menu.
  { route: "links", roles: MANAGE, menu: false }
];
/* A phone's bottom bar holds five targets of 72 px at 360 px: past five, the first four pages
   stand on the bar and the rest open from "More" (seven scrolled the bar sideways, hiding the
   first pages behind the edge). A wide screen's sidebar lists them all. */
var BAR_ROOM = 5;
var navMore = { open: false };

function allowedNav() {
  var role = session.account ? session.account.role : "admin";
  return NAV.filter(function (item) { return item.roles.indexOf(role) >= 0; });
}

function navLink(item, current) {
  var label = t(item.label);
  var link = el("a", { href: "#/" + item.route, class: "nav-link", "data-route": item.route, "aria-current": item.route === current ? "page" : null },
    icon(item.icon), el("span", { class: "nav-label", text: label }));
  if (item.route === "notifications" && session.attention > 0) {
    link.appendChild(el("span", { class: "nav-count", "data-testid": "attention-count", "aria-label": t("oc_needs_attention") + ": " + session.attention, text: session.attention > 99 ? "99+" : String(session.attention) }));
  }
  return link;
}

function renderNav() {
  var nav = $("nav");
  // A redraw (a new inbox count, the language) keeps the keyboard where it was.
  var active = document.activeElement;
  var hadFocus = nav.contains(active) ? (active.getAttribute("data-route") || active.id) : null;
  clear(nav);
  var current = currentRoute()[0] || allowedNav()[0].route;
  var items = allowedNav().filter(function (item) { return item.menu !== false; });
  var onBar = items.length > BAR_ROOM ? items.slice(0, BAR_ROOM - 1) : items;
  var inMore = items.slice(onBar.length);
  onBar.forEach(function (item) { nav.appendChild(navLink(item, current)); });
  if (inMore.length) {
    var holdsCurrent = inMore.some(function (item) { return item.route === current; });
    var toggle = el("button", { type: "button", id: "nav-more-toggle", class: "nav-link nav-more-toggle" + (holdsCurrent ? " holds-current" : ""),
      "aria-expanded": String(navMore.open), "aria-controls": "nav-more-list" },
      icon("more"), el("span", { class: "nav-label", text: t("nav_more") }));
    var list = el("div", { id: "nav-more-list", class: "nav-more-list" + (navMore.open ? " is-open" : "") },
      inMore.map(function (item) { return navLink(item, current); }));
    toggle.addEventListener("click", function () { setNavMore(!navMore.open); });
    nav.appendChild(el("div", { class: "nav-more" }, toggle, list));
  }
  if (hadFocus) {
    var again = hadFocus === "nav-more-toggle" ? $(hadFocus) : nav.querySelector('[data-route="' + hadFocus + '"]');
    if (again) again.focus();
  }
}

function setNavMore(open, returnFocus) {
  navMore.open = open;
  var toggle = $("nav-more-toggle");
  if (!toggle) return;
  toggle.setAttribute("aria-expanded", String(open));
  $("nav-more-list").classList.toggle("is-open", open);
  if (returnFocus) toggle.focus();
}

function setupNavMore() {
  var nav = $("nav");
  nav.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && navMore.open) {
      event.preventDefault();
      setNavMore(false, true);
    }
  });
  // Open, the list covers the page: it closes once focus or a tap goes anywhere else.
  nav.addEventListener("focusout", function (event) {
    if (navMore.open && event.relatedTarget && !event.relatedTarget.closest(".nav-more")) setNavMore(false);
  });
  document.addEventListener("click", function (event) {
    if (navMore.open && (!event.target.closest(".nav-more") || event.target.closest(".nav-more-list a"))) setNavMore(false);
  });
}

function refreshAttention() {
  if (!session.loggedIn || (session.account && session.account.role === "cashier")) return;
  api("GET", "notifications?outcome=needs_attention&limit=100").then(function (body) {
    var count = body.data.length + (body.next_before ? 1 : 0);
    if (count !== session.attention) {
      session.attention = count;
      renderNav();
      if (shell.view && shell.view.onAttention) shell.view.onAttention();
    }
  }, function () { /* shown again at the next refresh */ });
}
var refreshAttentionSoon = debounce(refreshAttention, 500);

function setLive(state) {
  var node = $("live");
  if (!node) return;
  node.setAttribute("data-state", state);
  $("live-text").textContent = t(state === "on" ? "live_on" : state === "connecting" ? "live_connecting" : "live_off");
}

/* "toast_paid" or, without a shop's name, "toast_paid_no_shop": no sentence with a hole. */
function withShop(key, values) {
  return values.merchant ? t(key, values) : t(key + "_no_shop", values);
}

function handleEvent(event) {
  rememberEvent(event);
  // The overview's feed says new money itself: its toast is for the eye only there.
  var quiet = !!(shell.view && shell.view.announcesMoney);
  if (event.event === "payment_paid" && event.data) {
    toast(withShop("toast_paid", { total: rupiah(event.data.total_amount), merchant: event.data.merchant_name }), "ok", quiet);
  }
  if (event.event === "notification_needs_attention" && event.data) {
    var d = event.data;
    toast(d.app_not_accepted
      ? t("toast_app_not_accepted", { total: rupiah(d.parsed_amount), app: d.app || t("unnamed_app") })
      : d.parsed_amount != null
      ? withShop("toast_attention", { total: rupiah(d.parsed_amount), merchant: d.merchant_name })
      : withShop("toast_unparsed", { merchant: d.merchant_name }), "warn", quiet);
  }
  if (event.event === "payment_paid" || event.event === "notification_needs_attention" || event.event === "notification_resolved") refreshAttentionSoon();
  if (shell.view && shell.view.onEvent) shell.view.onEvent(event);
}

function currentRoute() {
  var hash = location.hash.replace(/^#\/?/, "").split("?")[0];
  return hash.split("/").filter(function (p) { return p !== ""; }).map(function (p) {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
}

function destroyView() {
  if (shell.view && shell.view.destroy) shell.view.destroy();
  shell.view = null;
}

/* Once the page has its heading (a detail page draws it after loading), the document title
   names the page, and on a page change focus starts there, as a screen reader expects. */
var headingWatch = null;
function titleAndFocus(container, moveFocus) {
  if (headingWatch) { headingWatch.disconnect(); headingWatch = null; }
  function found() {
    var heading = container.querySelector("h1");
    if (!heading) return false;
    document.title = (heading.getAttribute("data-title") || heading.textContent) + " · WebQRIS";
    if (moveFocus) focusHeading();
    return true;
  }
  if (found()) return;
  headingWatch = new MutationObserver(function () {
    if (found()) { headingWatch.disconnect(); headingWatch = null; }
  });
  headingWatch.observe(container, { childList: true, subtree: true });
}

function route(event) {
  if (!session.loggedIn) return;
  // The language button re-renders the page: focus stays on that button.
  var moveFocus = !(event && event.type === "langchange");
  var parts = currentRoute();
  var allowed = allowedNav().map(function (item) { return item.route; });
  var name = allowed.indexOf(parts[0]) >= 0 ? parts[0] : allowed[0];
  if (name !== parts[0]) parts = [name];
  destroyView();
  navMore.open = false;
  renderNav();
  var container = clear($("view"));
  container.setAttribute("data-view", name);
  var views = { overview: viewOverview, payments: parts[1] ? viewPaymentDetail : viewPayments, notifications: viewNotifications,
    merchants: parts[1] ? viewMerchantForm : viewMerchants, webhooks: viewWebhooks, audit: viewAudit,
    accounts: viewAccounts, alerts: viewAlerts, links: viewLinks };
  var make = views[name] || viewOverview;
  shell.view = make(container, parts.slice(1), route) || null;
  titleAndFocus(container, moveFocus);
  window.scrollTo(0, 0);
}

function boot() {
  session.expired = loggedOut;
  session.refreshAttention = refreshAttention;
  setupLogin();
  setupNavMore();
  applyStaticText();
  onLangChange(function () {
    applyStaticText();
    if (session.loggedIn) route({ type: "langchange" });
  });
  window.addEventListener("hashchange", route);
  // A browser that has not logged in here shows the form at once; the session cookie is
  // HttpOnly, so a marker in localStorage tells whether asking for the session is worth it.
  if (!hasMarker()) { showLogin(); return; }
  api("GET", "session").then(loggedIn, function (err) {
    if (err.status === 401) { setMarker(false); showLogin(); }
    else {
      showLogin();
      var error = $("login-error");
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
}

boot();
