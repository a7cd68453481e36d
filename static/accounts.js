/* Accounts page (admin): the staff accounts with their roles and shops; add one, reset its
   password (shown once), disable or remove it. And the "change my password" dialog that every
   account opens from the top bar. The server is the guard: this page only follows the role. */
import {
  actionDone, actionFailed, api, append, clear, dateOnly, el, errorBlock, field, loadMerchants, loadingBlock, openDialog,
  pageHeader, session, showSecrets, strings, toast
} from "./wq.js";

var t = strings({
  id: {
    ac_title: "Akun", ac_intro: "Setiap orang masuk dengan akunnya sendiri. Admin mengatur semuanya; pengelola toko hanya toko yang diberikan; kasir hanya halaman kasir dan tagihan hari ini dari satu toko.",
    ac_new: "Tambah akun", ac_username: "Nama pengguna", ac_role: "Peran", ac_shops: "Toko",
    ac_status: "Status", ac_actions: "Tindakan", ac_created: "Dibuat {date}",
    role_admin: "Admin", role_manager: "Pengelola toko", role_cashier: "Kasir",
    ac_all_shops: "Semua toko", ac_no_shops: "Belum ada toko: tambahkan toko dulu di halaman Toko.",
    ac_active: "Aktif", ac_disabled: "Dinonaktifkan", ac_you: "(Anda)",
    ac_reset: "Atur ulang kata sandi {name}", ac_disable: "Nonaktifkan {name}", ac_enable: "Aktifkan {name}",
    ac_remove: "Hapus {name}", ac_reset_short: "Atur ulang kata sandi", ac_disable_short: "Nonaktifkan",
    ac_enable_short: "Aktifkan", ac_remove_short: "Hapus", ac_enable_failed: "Akun {name} tidak diaktifkan.",
    ac_username_help: "2–32 huruf kecil, angka, titik, garis bawah atau tanda hubung.",
    ac_shops_help_cashier: "Kasir melayani tepat satu toko.", ac_shops_help_manager: "Pilih satu toko atau lebih.",
    ac_shops_help_admin: "Admin melihat semua toko.", ac_create: "Buat akun",
    ac_password_title: "Kata sandi {name}", ac_password_intro: "Berikan kata sandi ini kepada {name}. Ia bisa menggantinya setelah masuk.",
    ac_password_label: "Kata sandi", ac_created_toast: "Akun {name} dibuat.",
    ac_reset_title: "Atur ulang kata sandi {name}?", ac_reset_body: "{name} keluar dari semua perangkat dan harus masuk dengan kata sandi baru.",
    ac_reset_ok: "Atur ulang", ac_remove_title: "Hapus akun {name}?", ac_remove_body: "{name} tidak bisa masuk lagi. Log audit tetap menyimpan namanya.",
    ac_disable_title: "Nonaktifkan akun {name}?", ac_disable_body: "{name} langsung keluar dan tidak bisa masuk sampai diaktifkan lagi.",
    ac_saved: "Perubahan disimpan.", ac_removed: "Akun {name} dihapus.", ac_none: "Belum ada akun.",
    pw_title: "Ganti kata sandi", pw_current: "Kata sandi sekarang", pw_new: "Kata sandi baru",
    pw_repeat: "Ulangi kata sandi baru", pw_help: "Paling sedikit 8 karakter. Perangkat lain yang masuk dengan akun ini akan keluar.",
    pw_save: "Ganti kata sandi", pw_too_short: "Kata sandi baru paling sedikit 8 karakter.",
    pw_mismatch: "Kedua kata sandi baru tidak sama.", pw_changed: "Kata sandi diganti.",
    pw_wrong: "Kata sandi sekarang salah."
  },
  en: {
    ac_title: "Accounts", ac_intro: "Everyone signs in with an account of their own. An admin manages everything; a shop manager only the shops it is given; a cashier only the cashier page and today's bills of one shop.",
    ac_new: "Add account", ac_username: "Username", ac_role: "Role", ac_shops: "Shops",
    ac_status: "Status", ac_actions: "Actions", ac_created: "Created {date}",
    role_admin: "Admin", role_manager: "Shop manager", role_cashier: "Cashier",
    ac_all_shops: "All shops", ac_no_shops: "No shops yet: add a shop on the Shops page first.",
    ac_active: "Active", ac_disabled: "Disabled", ac_you: "(you)",
    ac_reset: "Reset password for {name}", ac_disable: "Disable {name}", ac_enable: "Enable {name}",
    ac_remove: "Remove {name}", ac_reset_short: "Reset password", ac_disable_short: "Disable",
    ac_enable_short: "Enable", ac_remove_short: "Remove", ac_enable_failed: "The account {name} was not enabled.",
    ac_username_help: "2–32 lower-case letters, digits, dots, underscores or hyphens.",
    ac_shops_help_cashier: "A cashier serves exactly one shop.", ac_shops_help_manager: "Choose one or more shops.",
    ac_shops_help_admin: "An admin sees every shop.", ac_create: "Create account",
    ac_password_title: "Password of {name}", ac_password_intro: "Give this password to {name}. They can change it after signing in.",
    ac_password_label: "Password", ac_created_toast: "Account {name} created.",
    ac_reset_title: "Reset the password of {name}?", ac_reset_body: "{name} is signed out everywhere and must sign in with the new password.",
    ac_reset_ok: "Reset", ac_remove_title: "Remove the account {name}?", ac_remove_body: "{name} can no longer sign in. The audit log keeps the name.",
    ac_disable_title: "Disable the account {name}?", ac_disable_body: "{name} is signed out at once and cannot sign in until enabled again.",
    ac_saved: "Changes saved.", ac_removed: "Account {name} removed.", ac_none: "No accounts yet.",
    pw_title: "Change password", pw_current: "Current password", pw_new: "New password",
    pw_repeat: "Repeat the new password", pw_help: "At least 8 characters. Other devices signed in with this account are signed out.",
    pw_save: "Change password", pw_too_short: "The new password needs at least 8 characters.",
    pw_mismatch: "The two new passwords differ.", pw_changed: "Password changed.",
    pw_wrong: "The current password is wrong."
  }
});

export function roleName(role) { return t("role_" + role); }

export function viewAccounts(container) {
  var list = el("div", { class: "results" }, loadingBlock());
  var add = el("button", { type: "button", class: "btn btn-primary", "data-testid": "account-new" }, t("ac_new"));
  append(container, [pageHeader(t("ac_title"), add, t("ac_intro")), list]);
  var alive = true;
  var shops = [];

  function load() {
    return Promise.all([api("GET", "accounts"), loadMerchants(true)]).then(function (answers) {
      if (!alive) return;
      shops = answers[1];
      clear(list).appendChild(answers[0].data.length ? table(answers[0].data) : el("div", { class: "empty-state", text: t("ac_none") }));
    }, function (err) {
      if (alive) clear(list).appendChild(errorBlock(err, load));
    });
  }

  function shopNames(account) {
    if (account.role === "admin") return t("ac_all_shops");
    return account.merchant_ids.map(function (id) {
      var shop = shops.filter(function (m) { return m.id === id; })[0];
      return shop ? shop.name : "#" + id;
    }).join(", ");
  }

  function table(accounts) {
    var me = session.account ? session.account.id : null;
    return el("table", { class: "table table-accounts" },
      el("thead", null, el("tr", null, [t("ac_username"), t("ac_role"), t("ac_shops"), t("ac_status"), t("ac_actions")].map(function (h) {
        return el("th", { scope: "col", text: h });
      }))),
      el("tbody", null, accounts.map(function (account) {
        var name = account.username;
        return el("tr", { "data-account": name },
          el("td", null, el("strong", { text: name }), account.id === me ? " " + t("ac_you") : null,
            el("div", { class: "sub", text: t("ac_created", { date: dateOnly(account.created_at) }) })),
          el("td", { text: roleName(account.role) }),
          el("td", { class: "wrap", text: shopNames(account) }),
          el("td", { text: account.disabled ? t("ac_disabled") : t("ac_active") }),
          el("td", null, el("div", { class: "row-actions" },
            actionButton(t("ac_reset_short"), t("ac_reset", { name: name }), function () { resetPassword(account); }),
            actionButton(account.disabled ? t("ac_enable_short") : t("ac_disable_short"),
              t(account.disabled ? "ac_enable" : "ac_disable", { name: name }), function () { toggleDisabled(account); }),
            actionButton(t("ac_remove_short"), t("ac_remove", { name: name }), function () { remove(account); }, true))));
      })));
  }

  function actionButton(text, label, onclick, danger) {
    return el("button", { type: "button", class: "btn btn-sm " + (danger ? "btn-danger" : "btn-quiet"), "aria-label": label, title: label, onclick: onclick }, text);
  }

  function resetPassword(account) {
    openDialog({
      title: t("ac_reset_title", { name: account.username }), body: el("p", { text: t("ac_reset_body", { name: account.username }) }),
      confirmText: t("ac_reset_ok"),
      action: function () { return api("POST", "accounts/" + account.id + "/password"); }
    }).then(function (answer) {
      if (answer && answer.password) showPassword(account.username, answer.password);
    });
  }

  function toggleDisabled(account) {
    var disabling = !account.disabled;
    var change = function () { return api("PATCH", "accounts/" + account.id, { disabled: disabling }); };
    var asked = disabling ? openDialog({
      title: t("ac_disable_title", { name: account.username }), body: el("p", { text: t("ac_disable_body", { name: account.username }) }),
      confirmText: t("ac_disable_short"), danger: true, action: change
    }) : change();
    var key = "account-" + account.id;
    Promise.resolve(asked).then(function (done) {
      if (done) { actionDone(key); toast(t("ac_saved"), "ok"); load(); }
    }, function (err) {
      actionFailed(key, t("ac_enable_failed", { name: account.username }), err);
      load();
    });
  }

  function remove(account) {
    openDialog({
      title: t("ac_remove_title", { name: account.username }), body: el("p", { text: t("ac_remove_body", { name: account.username }) }),
      confirmText: t("ac_remove_short"), danger: true,
      action: function () { return api("DELETE", "accounts/" + account.id); }
    }).then(function (done) {
      if (done) { toast(t("ac_removed", { name: account.username }), "ok"); load(); }
    });
  }

  function showPassword(username, password) {
    return showSecrets(t("ac_password_title", { name: username }), t("ac_password_intro", { name: username }),
      [{ label: t("ac_password_label"), value: password, key: "password" }]);
  }

  function create() {
    var username = el("input", { id: "account-username", type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "none", required: true, "aria-describedby": "account-username-help" });
    var role = el("select", { id: "account-role" }, ["cashier", "manager", "admin"].map(function (r) {
      return el("option", { value: r, text: roleName(r) });
    }));
    var shopsHelp = el("p", { id: "account-shops-help", class: "help" });
    var boxes = shops.map(function (shop) {
      var box = el("input", { type: "checkbox", value: String(shop.id), id: "account-shop-" + shop.id });
      return { box: box, node: el("div", { class: "field-check" }, el("label", { for: "account-shop-" + shop.id }, box, el("span", { text: shop.name }))) };
    });
    var shopSet = el("fieldset", { class: "account-shops", "aria-describedby": "account-shops-help" },
      el("legend", { text: t("ac_shops") }), shopsHelp,
      boxes.length ? boxes.map(function (b) { return b.node; }) : el("p", { class: "help", text: t("ac_no_shops") }));
    function followRole() {
      shopsHelp.textContent = t("ac_shops_help_" + role.value);
      boxes.forEach(function (b) { b.box.disabled = role.value === "admin"; if (role.value === "admin") b.box.checked = false; });
    }
    role.addEventListener("change", followRole);
    followRole();
    var made = null;
    openDialog({
      title: t("ac_new"), confirmText: t("ac_create"),
      extra: function () {
        return [field(t("ac_username"), username, "account-username"),
          el("p", { id: "account-username-help", class: "help", text: t("ac_username_help") }),
          field(t("ac_role"), role, "account-role"), shopSet];
      },
      action: function () {
        var ids = boxes.filter(function (b) { return b.box.checked; }).map(function (b) { return Number(b.box.value); });
        return api("POST", "accounts", { username: username.value.trim(), role: role.value, merchant_ids: ids }).then(function (answer) {
          made = answer;
          return answer;
        });
      }
    }).then(function () {
      if (!made) return;
      toast(t("ac_created_toast", { name: made.data.username }), "ok");
      load();
      showPassword(made.data.username, made.password);
    });
    setTimeout(function () { username.focus(); }, 0);
  }

  add.addEventListener("click", create);
  load();
  return { refresh: load, destroy: function () { alive = false; } };
}

/* "Change my password", for every account. A new session replaces this one (the server ends
   the others), so the CSRF token it answers with is the one to use from now on. */
export function openPasswordDialog() {
  var inputs = {};
  ["current", "new", "repeat"].forEach(function (name) {
    inputs[name] = el("input", { id: "pw-" + name, type: "password", required: true,
      autocomplete: name === "current" ? "current-password" : "new-password" });
  });
  var asked = openDialog({
    title: t("pw_title"), confirmText: t("pw_save"),
    extra: function () {
      return [field(t("pw_current"), inputs.current, "pw-current"), field(t("pw_new"), inputs["new"], "pw-new"),
        field(t("pw_repeat"), inputs.repeat, "pw-repeat"), el("p", { class: "help", text: t("pw_help") })];
    },
    action: function () {
      if (inputs["new"].value.length < 8) return Promise.reject(new Error(t("pw_too_short")));
      if (inputs["new"].value !== inputs.repeat.value) return Promise.reject(new Error(t("pw_mismatch")));
      return api("POST", "password", { current_password: inputs.current.value, new_password: inputs["new"].value }).then(function (answer) {
        session.csrf = answer.csrf_token;
        return answer;
      }, function (err) {
        if (err.status === 403 && !(err.body && err.body.error_code)) throw new Error(t("pw_wrong"));
        throw err;
      });
    }
  }).then(function (done) {
    if (done) toast(t("pw_changed"), "ok");
  });
  // A form to fill: typing starts in its first field (the dialog put focus on "Batal").
  inputs.current.focus();
  return asked;
}
