/* Merchants page: each shop's QRIS, phones, taught wordings, forwarder settings and secrets,
   and the form that creates or edits one. */
import {
  actionDone, actionFailed, api, append, clear, copyField, dateTime, debounce, el, errorBlock, errorText, field, fieldProblem, icon,
  loadMerchants, loadingBlock, methodName, named, openDialog, pageHeader, problemText, relative, session,
  showSecrets, strings, toast
} from "./wq.js";

var t = strings({
  id: {
    save: "Simpan", saving: "Menyimpan…", m_title: "Toko", m_new: "Tambah toko",
    m_edit: "Ubah toko", m_name: "Nama toko", m_qris: "QRIS statis",
    m_qris_help: "Tempel isi teks QRIS statis toko (hasil pindai stiker QRIS, diawali 000201…).",
    m_qris_missing: "QRIS statis belum diatur: tagihan belum bisa dibuat.", m_qris_valid: "QRIS valid",
    m_qris_checking: "Memeriksa QRIS…", m_qris_decoded: "Terbaca: {name}, {city}", m_webhook: "URL webhook",
    m_webhook_help: "Server toko yang menerima webhook payment.paid (http:// atau https://).",
    m_webhook_admin_only: "Hanya admin yang dapat mengubah URL webhook, karena server mengirim permintaan ke alamat ini. Minta admin untuk mengubahnya.",
    m_apps: "Aplikasi yang boleh melunasi tagihan", m_apps_extra: "Aplikasi lain yang dipercaya",
    m_apps_help: "Aplikasi e-wallet dan bank yang dikenal WebQRIS selalu boleh melunasi. Tambahkan nama paket aplikasi lain yang Anda percayai (mis. aplikasi kasir), pisahkan dengan koma. Notifikasi dari aplikasi lain (email, SMS, chat, toko online) tidak melunasi apa pun dan menunggu di kotak masuk.",
    m_apps_seen: "Terlihat dari HP toko: {apps}", m_apps_payment: "Aplikasi pembayaran",
    m_apps_any: "Aplikasi apa saja (berisiko)", m_apps_unnamed: "notifikasi tanpa nama aplikasi",
    m_any_app: "Izinkan aplikasi apa saja melunasi tagihan (berisiko)",
    m_any_app_help: "Notifikasi dari email, SMS atau chat yang bunyinya seperti uang masuk akan melunasi tagihan: siapa pun yang bisa mengirim pesan ke HP toko bisa membuat tagihan lunas.",
    m_unnamed_app: "Izinkan notifikasi tanpa nama aplikasi melunasi tagihan",
    m_unnamed_app_help: "Untuk template MacroDroid/Tasker yang tidak mengirim nama paket. Aktifkan hanya bila HP meneruskan notifikasi aplikasi pembayaran saja.",
    m_webhook_none: "Belum ada URL webhook", m_nmid: "NMID", m_city: "Kota",
    m_test_webhook: "Kirim webhook tes", m_test_failed: "Webhook tes ke {name} tidak dikirim.", m_test_sent: "Webhook tes dijadwalkan. Lihat hasilnya di halaman Webhook.",
    m_test_needs_url: "Isi URL webhook dulu.", m_rotate: "Ganti kunci rahasia", rot_api_token: "API token",
    rot_callback_secret: "Callback secret", rot_webhook_secret: "Webhook secret",
    rotate_title: "Ganti {secret}?",
    rotate_body: "Nilai lama langsung berhenti bekerja. Anda harus memasang nilai baru di {where}.",
    rotate_body_webhook_secret: "Webhook langsung ditandatangani dengan nilai baru di X-Webhook-Signature. Untuk sementara header webhook-signature (Standard Webhooks) juga membawa tanda tangan dengan nilai lama, jadi server toko yang memeriksa header itu tetap menerima webhook sampai nilai baru dipasang.",
    m_previous_secret: "Webhook secret lama masih ikut menandatangani webhook-signature sampai {time}.",
    where_api_token: "server toko (Authorization: Bearer)",
    where_callback_secret: "aplikasi penerus notifikasi di HP dan integrasi callback",
    where_webhook_secret: "server toko (verifikasi tanda tangan webhook)", rotate_ok: "Ganti sekarang",
    m_phones: "HP toko (penerus notifikasi)",
    m_no_phones: "Belum ada HP yang mengirim notifikasi. Pasang aplikasi penerus notifikasi dengan pengaturan di bawah, lalu kirim tes.",
    last_heard: "Kabar terakhir {when}", last_heard_never: "Belum pernah mengirim kabar", to_shop: "ke {name}", of_shop: "milik {name}",
    silent_warning: "Sudah lama diam: periksa HP, baterai, internet, dan aplikasi penerus notifikasi.",
    last_app: "aplikasi terakhir {app}", last_test: "tes terakhir {when}", m_forwarder: "Pengaturan aplikasi penerus notifikasi",
    fw_url: "URL untuk aplikasi penerus notifikasi", fw_header: "Header", fw_callback: "URL callback sederhana",
    fw_heartbeat: "URL tanda hidup HP",
    fw_heartbeat_help: "Minta MacroDroid atau Tasker di HP mengirim POST ke URL ini tiap 15 menit dengan header yang sama: HP yang diam terlalu lama diperingatkan (lihat Peringatan).",
    last_heartbeat: "tanda hidup terakhir {when}", the_phone: "HP toko", m_alerts: "Peringatan",
    m_alerts_label: "Atur peringatan untuk {name}",
    fw_test: "Isi tes koneksi", fw_note: "Ganti <CALLBACK_SECRET> dengan callback secret toko ini.",
    m_created: "Toko {name} dibuat.", m_saved: "Perubahan disimpan.",
    m_none: "Belum ada toko. Tambahkan toko pertama Anda.", edit: "Ubah",
    m_secrets_created: "Toko dibuat. Ini kunci rahasianya:", done: "Selesai", m_preview: "Pratinjau QRIS",
    m_preview_empty: "Tempel QRIS statis untuk melihat pratinjau.",
    name_required: "Nama toko wajib diisi.", m_wordings: "Kalimat yang diajarkan",
    m_wordings_none: "Belum ada. Ajari kalimat dari notifikasi yang tak terbaca di kotak masuk.",
    m_wording_app: "aplikasi {app}", m_wording_no_app: "tanpa nama aplikasi", m_wording_delete: "Hapus",
    wording_delete_title: "Hapus kalimat ini?",
    wording_delete_body: "WebQRIS tidak lagi membaca kalimat ini sendiri; notifikasinya akan menunggu di kotak masuk.",
    wording_deleted: "Kalimat dihapus."
  },
  en: {
    save: "Save", saving: "Saving…", m_title: "Shops", m_new: "Add shop", m_edit: "Edit shop",
    m_name: "Shop name", m_qris: "Static QRIS",
    m_qris_help: "Paste the text of the shop's static QRIS (scan the QRIS sticker; it starts with 000201…).",
    m_qris_missing: "No static QRIS set: bills cannot be created yet.", m_qris_valid: "Valid QRIS",
    m_qris_checking: "Checking the QRIS…", m_qris_decoded: "Reads as: {name}, {city}",
    m_webhook: "Webhook URL",
    m_webhook_help: "The shop's server that receives the payment.paid webhook (http:// or https://).",
    m_webhook_admin_only: "Only an admin can change the webhook URL, because the server sends requests to it. Ask your admin to change it.",
    m_apps: "Apps that may pay bills", m_apps_extra: "Other trusted apps",
    m_apps_help: "The e-wallet and bank apps WebQRIS knows may always pay. Add the package names of other apps you trust (e.g. a cashier app), comma-separated. A notification from any other app (mail, SMS, chat, online shops) pays nothing and waits in the inbox.",
    m_apps_seen: "Seen from the shop's phones: {apps}", m_apps_payment: "Payment apps",
    m_apps_any: "Any app (risky)", m_apps_unnamed: "notifications without an app name",
    m_any_app: "Let any app pay bills (risky)",
    m_any_app_help: "A mail, SMS or chat notification that reads like money received would pay a bill: anybody who can message the shop's phone could mark a bill paid.",
    m_unnamed_app: "Let notifications without an app name pay bills",
    m_unnamed_app_help: "For MacroDroid/Tasker templates that send no package name. Turn on only if the phone forwards payment apps alone.",
    m_webhook_none: "No webhook URL yet", m_nmid: "NMID", m_city: "City", m_test_webhook: "Send test webhook", m_test_failed: "The test webhook to {name} was not sent.",
    m_test_sent: "Test webhook queued. See the result under Webhooks.",
    m_test_needs_url: "Set a webhook URL first.", m_rotate: "Rotate secrets", rot_api_token: "API token",
    rot_callback_secret: "Callback secret", rot_webhook_secret: "Webhook secret",
    rotate_title: "Rotate the {secret}?",
    rotate_body: "The old value stops working at once. You must install the new one in {where}.",
    rotate_body_webhook_secret: "Webhooks are signed with the new value in X-Webhook-Signature at once. For a while the webhook-signature header (Standard Webhooks) also carries a signature made with the old value, so a shop server that checks that header keeps accepting webhooks until the new value is installed.",
    m_previous_secret: "The previous webhook secret also signs webhook-signature until {time}.",
    where_api_token: "the shop's server (Authorization: Bearer)",
    where_callback_secret: "the notification forwarder app on the phone and any callback integration",
    where_webhook_secret: "the shop's server (webhook signature check)", rotate_ok: "Rotate now",
    m_phones: "Shop phones (notification forwarders)",
    m_no_phones: "No phone has sent a notification yet. Set up the notification forwarder app with the settings below, then send a test.",
    last_heard: "Last message {when}", last_heard_never: "Has not sent anything yet", to_shop: "to {name}", of_shop: "of {name}",
    silent_warning: "Silent for too long: check the phone, its battery, internet and the notification forwarder app.",
    last_app: "last app {app}", last_test: "last test {when}", m_forwarder: "Notification forwarder settings",
    fw_url: "URL for the notification forwarder app", fw_header: "Header", fw_callback: "Simple callback URL",
    fw_heartbeat: "Phone heartbeat URL",
    fw_heartbeat_help: "Let MacroDroid or Tasker on the phone POST to this URL every 15 minutes with the same header: a phone silent for too long is alerted (see Alerts).",
    last_heartbeat: "last heartbeat {when}", the_phone: "the shop's phone", m_alerts: "Alerts",
    m_alerts_label: "Set up alerts for {name}",
    fw_test: "Connection test body",
    fw_note: "Replace <CALLBACK_SECRET> with this shop's callback secret.",
    m_created: "Shop {name} created.", m_saved: "Changes saved.",
    m_none: "No shops yet. Add your first shop.", edit: "Edit",
    m_secrets_created: "Shop created. These are its secrets:", done: "Done", m_preview: "QRIS preview",
    m_preview_empty: "Paste a static QRIS to see a preview.", name_required: "The shop name is required.",
    m_wordings: "Taught wordings",
    m_wordings_none: "None yet. Teach one from an unreadable notification in the inbox.",
    m_wording_app: "app {app}", m_wording_no_app: "no app name", m_wording_delete: "Delete",
    wording_delete_title: "Delete this wording?",
    wording_delete_body: "WebQRIS no longer reads this wording by itself; its notifications will wait in the inbox.",
    wording_deleted: "Wording deleted."
  }
});

var SECRET_KINDS = ["api_token", "callback_secret", "webhook_secret"];

export function viewMerchants(container) {
  var alive = true;
  var list = el("div", { class: "merchant-list" }, loadingBlock());
  append(container, [
    pageHeader(t("m_title"), el("a", { class: "btn btn-primary", href: "#/merchants/new", id: "new-merchant" }, icon("plus"), el("span", { text: t("m_new") }))),
    list]);

  function load() {
    return Promise.all([loadMerchants(true), api("GET", "wordings")]).then(function (results) {
      var merchants = results[0], wordings = results[1].data;
      if (!alive) return;
      clear(list);
      if (!merchants.length) { list.appendChild(el("div", { class: "empty-state", text: t("m_none") })); return; }
      merchants.forEach(function (m) {
        list.appendChild(merchantCard(m, wordings.filter(function (w) { return w.merchant_id === m.id; })));
      });
    }, function (err) { if (alive) clear(list).appendChild(errorBlock(err, load)); });
  }

  function wordingList(wordings) {
    if (!wordings.length) return el("p", { class: "muted small", text: t("m_wordings_none") });
    return el("ul", { class: "wordings" }, wordings.map(function (w) {
      return el("li", { class: "wording", "data-wording-id": String(w.id) },
        el("code", { class: "wording-text break", text: w.wording }),
        el("div", { class: "small muted" }, el("span", { text: w.app ? t("m_wording_app", { app: methodName(w.app) }) : t("m_wording_no_app") }),
          " · ", el("time", { datetime: w.created_at, text: dateTime(w.created_at) })),
        el("button", { type: "button", class: "btn btn-danger-quiet btn-sm wording-delete", "aria-label": t("m_wording_delete") + ": " + w.wording,
          onclick: function () { deleteWording(w); } }, t("m_wording_delete")));
    }));
  }

  function deleteWording(w) {
    openDialog({
      title: t("wording_delete_title"), danger: true,
      body: [el("blockquote", { class: "quote", text: w.wording }), el("p", { text: t("wording_delete_body") })],
      confirmText: t("m_wording_delete"),
      action: function () { return api("DELETE", "wordings/" + w.id); }
    }).then(function (result) {
      if (!result) return;
      toast(t("wording_deleted"), "ok");
      if (alive) load();
    });
  }

  function merchantCard(m, wordings) {
    var q = m.qris;
    var qrisBlock = q
      ? el("div", { class: "qris-decoded" }, el("span", { class: "badge badge-ok", text: t("m_qris_valid") }),
        el("span", { text: q.merchant_name }), el("span", { class: "muted", text: q.merchant_city }),
        q.nmid ? el("span", { class: "muted small", text: t("m_nmid") + " " + q.nmid }) : null)
      : el("div", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("m_qris_missing") }));

    var devices = m.devices.length ? el("ul", { class: "devices" }, m.devices.map(function (d) {
      var last = [d.last_notification_at, d.last_test_at, d.last_heartbeat_at].filter(Boolean).sort().pop();
      return el("li", { class: "device" + (d.silent ? " is-silent" : ""), "data-device": d.device_id },
        icon(d.silent ? "warn" : "phone"),
        el("div", { class: "device-body" },
          el("div", { class: "device-id" }, el("strong", { text: d.device_id || t("the_phone") })),
          el("div", { class: "small" }, el("span", { text: last ? t("last_heard", { when: relative(last) }) : t("last_heard_never") }),
            last ? el("span", { class: "muted", text: " (" + dateTime(last) + ")" }) : null),
          el("div", { class: "small muted", text: [d.last_app ? t("last_app", { app: methodName(d.last_app) }) : null,
            d.last_test_at ? t("last_test", { when: relative(d.last_test_at) }) : null,
            d.last_heartbeat_at ? t("last_heartbeat", { when: relative(d.last_heartbeat_at) }) : null].filter(Boolean).join(" · ") }),
          d.silent ? el("div", { class: "device-warning", role: "note", text: t("silent_warning") }) : null));
    })) : el("p", { class: "muted small", text: t("m_no_phones") });

    var fw = m.forwarder || {};
    var forwarder = el("details", { class: "forwarder" },
      el("summary", { text: t("m_forwarder") }),
      copyField(t("fw_url"), fw.url || ""),
      copyField(t("fw_header"), fw.header || ""),
      copyField(t("fw_callback"), fw.callback_url || ""),
      copyField(t("fw_heartbeat"), fw.heartbeat_url || ""),
      el("p", { class: "muted small", text: t("fw_heartbeat_help") }),
      copyField(t("fw_test"), JSON.stringify(fw.test_body || {})),
      el("p", { class: "muted small", text: t("fw_note") }));

    var testButton = el("button", { type: "button", class: "btn btn-quiet btn-sm", disabled: !m.webhook_url, title: m.webhook_url ? null : t("m_test_needs_url") }, named(t("m_test_webhook"), t("to_shop", { name: m.name })));
    testButton.addEventListener("click", function () {
      testButton.disabled = true;
      var key = "test-webhook-" + m.id;
      api("POST", "merchants/" + m.id + "/test-webhook").then(function () { actionDone(key); toast(t("m_test_sent"), "ok"); },
        function (err) { actionFailed(key, t("m_test_failed", { name: m.name }), err); }).then(function () { testButton.disabled = false; });
    });

    var rotate = el("div", { class: "rotate" }, el("span", { class: "muted small", text: t("m_rotate") + ":" }),
      SECRET_KINDS.map(function (kind) {
        return el("button", { type: "button", class: "btn btn-quiet btn-sm", "data-rotate": kind, onclick: function () { rotateSecret(m, kind); } }, named(t("rot_" + kind), t("of_shop", { name: m.name })));
      }));

    return el("article", { class: "panel merchant", "data-merchant-id": String(m.id), "data-key": "merchant-" + m.id },
      el("div", { class: "merchant-head" },
        el("div", null, el("h2", { text: m.name }), el("div", { class: "muted small", text: "ID " + m.id })),
        el("a", { class: "btn btn-quiet btn-sm", href: "#/merchants/" + m.id }, named(t("edit"), m.name))),
      qrisBlock,
      el("div", { class: "merchant-row", "data-testid": "accepted-apps" }, el("span", { class: "muted", text: t("m_apps") + ": " }),
        m.accept_any_app ? el("span", { class: "badge badge-warn", text: t("m_apps_any") })
          : el("span", { class: "break", text: [t("m_apps_payment")].concat(m.accepted_apps, m.accept_unnamed_app ? [t("m_apps_unnamed")] : []).join(" + ") })),
      el("div", { class: "merchant-row" }, el("span", { class: "muted", text: t("m_webhook") + ": " }),
        m.webhook_url ? el("code", { class: "break", text: m.webhook_url }) : el("span", { class: "muted", text: t("m_webhook_none") })),
      el("div", { class: "merchant-actions" }, testButton, rotate,
        el("a", { class: "btn btn-quiet btn-sm", href: "#/alerts?merchant=" + m.id, "aria-label": t("m_alerts_label", { name: m.name }) }, t("m_alerts"))),
      m.previous_webhook_secret_until ? el("p", { class: "muted small", "data-testid": "previous-webhook-secret",
        text: t("m_previous_secret", { time: dateTime(m.previous_webhook_secret_until) }) }) : null,
      el("h3", { text: t("m_phones") }), devices,
      el("h3", { text: t("m_wordings") }), wordingList(wordings),
      forwarder);
  }

  function rotateSecret(m, kind) {
    openDialog({
      title: t("rotate_title", { secret: t("rot_" + kind) }), danger: true,
      body: el("p", { text: kind === "webhook_secret" && session.secretOverlap > 0 ? t("rotate_body_webhook_secret")
        : t("rotate_body", { where: t("where_" + kind) }) }),
      confirmText: t("rotate_ok"),
      action: function () { return api("POST", "merchants/" + m.id + "/rotate", { secret: kind }); }
    }).then(function (result) {
      if (!result || !result.value) return;
      showSecrets(null, m.name + " · " + t("rot_" + kind), [{ key: kind, label: t("rot_" + kind), value: result.value }])
        .then(function () { if (alive) load(); });
    });
  }

  load();
  return { refresh: load, destroy: function () { alive = false; } };
}

export function viewMerchantForm(container, params) {
  var alive = true;
  var creating = params[0] === "new";
  var merchantId = creating ? null : Number(params[0]);
  var original = null;
  var body = el("div", null, loadingBlock());
  append(container, [
    el("a", { class: "back-link", href: "#/merchants" }, icon("back"), el("span", { text: t("m_title") })),
    pageHeader(creating ? t("m_new") : t("m_edit")), body]);

  var nameInput = el("input", { id: "m-name", type: "text", maxlength: "100", autocomplete: "organization", required: true });
  var qrisInput = el("textarea", { id: "m-qris", rows: "4", spellcheck: "false", autocomplete: "off", placeholder: "000201010211…", "aria-describedby": "m-qris-help m-qris-status" });
  // The server refuses a webhook URL from anyone but an admin (it sends requests there).
  var urlAdminOnly = Boolean(session.account && session.account.role !== "admin");
  var urlInput = el("input", { id: "m-webhook", type: "url", inputmode: "url", placeholder: "https://toko.example/webhook/qris", autocomplete: "off", "aria-describedby": "m-webhook-help", readonly: urlAdminOnly });
  var appsInput = el("input", { id: "m-apps", type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "none", placeholder: "id.dana, com.gojek.gopaymerchant", "aria-describedby": "m-apps-help m-apps-seen" });
  var appsSeen = el("p", { class: "help", id: "m-apps-seen" });
  var anyAppInput = el("input", { id: "m-any-app", type: "checkbox", "aria-describedby": "m-any-app-help" });
  var unnamedAppInput = el("input", { id: "m-unnamed-app", type: "checkbox", "aria-describedby": "m-unnamed-app-help" });
  function checkbox(input, label, help) {
    return el("div", { class: "field field-check" },
      el("label", { for: input.id }, input, el("span", { text: t(label) })),
      el("p", { class: "help", id: input.id + "-help", text: t(help) }));
  }
  var qrisStatus = el("div", { id: "m-qris-status", class: "qris-status", "aria-live": "polite" });
  var preview = el("div", { class: "qris-preview", id: "m-qris-preview" });
  var formError = el("p", { class: "form-error", id: "m-problem", role: "alert", hidden: true });
  var saveButton = el("button", { type: "submit", class: "btn btn-primary", id: "m-save" }, creating ? t("m_new") : t("save"));
  var previewSeq = 0;
  var side = el("aside", { class: "form-side is-empty" }, el("h2", { text: t("m_preview") }), preview);

  function renderPreviewEmpty() {
    side.classList.add("is-empty");
    clear(preview).appendChild(el("div", { class: "qris-preview-empty muted small", text: t("m_preview_empty") }));
    clear(qrisStatus);
  }

  var checkQris = debounce(function () {
    var payload = qrisInput.value.trim();
    var seq = ++previewSeq;
    if (!payload) { renderPreviewEmpty(); qrisInput.removeAttribute("aria-invalid"); return; }
    clear(qrisStatus).appendChild(el("span", { class: "muted", text: t("m_qris_checking") }));
    api("POST", "qris/preview", { payload: payload }).then(function (res) {
      if (!alive || seq !== previewSeq) return;
      clear(qrisStatus);
      clear(preview);
      side.classList.toggle("is-empty", !res.valid);
      if (res.valid) {
        qrisInput.setAttribute("aria-invalid", "false");
        qrisStatus.appendChild(el("div", { class: "qris-ok", "data-testid": "qris-ok" }, icon("check"),
          el("span", { text: t("m_qris_decoded", { name: res.merchant_name, city: res.merchant_city }) })));
        append(preview, [
          el("div", { class: "qris-preview-svg", html: res.svg }), // server-made segno SVG
          el("dl", { class: "facts facts-tight" },
            el("dt", { text: t("merchant") }), el("dd", { class: "decoded-name", text: res.merchant_name }),
            el("dt", { text: t("m_city") }), el("dd", { text: res.merchant_city }),
            res.nmid ? el("dt", { text: t("m_nmid") }) : null, res.nmid ? el("dd", { text: res.nmid }) : null)]);
      } else {
        qrisInput.setAttribute("aria-invalid", "true");
        qrisStatus.appendChild(el("div", { class: "qris-error", "data-testid": "qris-error", role: "alert" }, icon("warn"), el("span", { text: problemText(res.error, res.error_code, res.error_details) })));
        preview.appendChild(el("div", { class: "qris-preview-empty muted small", text: t("m_preview_empty") }));
      }
    }, function (err) {
      if (!alive || seq !== previewSeq) return;
      clear(qrisStatus).appendChild(el("div", { class: "qris-error", role: "alert", text: errorText(err) }));
    });
  }, 300);
  qrisInput.addEventListener("input", checkQris);

  var form = el("form", { class: "panel merchant-form", novalidate: true },
    el("div", { class: "form-grid" },
      el("div", { class: "form-main" },
        field(t("m_name"), nameInput, "m-name"),
        el("div", { class: "field" },
          el("label", { for: "m-qris", text: t("m_qris") }), qrisInput,
          el("p", { class: "help", id: "m-qris-help", text: t("m_qris_help") }), qrisStatus),
        el("div", { class: "field" },
          el("label", { for: "m-webhook", text: t("m_webhook") }), urlInput,
          el("p", { class: "help", id: "m-webhook-help", text: t(urlAdminOnly ? "m_webhook_admin_only" : "m_webhook_help") })),
        el("div", { class: "field" },
          el("label", { for: "m-apps", text: t("m_apps_extra") }), appsInput,
          el("p", { class: "help", id: "m-apps-help", text: t("m_apps_help") }), appsSeen),
        checkbox(unnamedAppInput, "m_unnamed_app", "m_unnamed_app_help"),
        checkbox(anyAppInput, "m_any_app", "m_any_app_help")),
      side),
    formError,
    el("div", { class: "form-actions" }, el("a", { class: "btn btn-quiet", href: "#/merchants" }, t("cancel")), saveButton));

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    formError.hidden = true;
    var name = nameInput.value.trim();
    if (!name) { fieldProblem(nameInput, formError, t("name_required")); return; }
    var payload = {};
    var qrisValue = qrisInput.value.trim();
    var urlValue = urlInput.value.trim();
    var apps = appsInput.value.split(/[\s,]+/).filter(Boolean);
    if (creating) {
      payload.name = name;
      if (qrisValue) payload.static_qris = qrisValue;
      if (urlValue) payload.webhook_url = urlValue;
      if (apps.length) payload.accepted_apps = apps;
      if (anyAppInput.checked) payload.accept_any_app = true;
      if (unnamedAppInput.checked) payload.accept_unnamed_app = true;
    } else {
      if (name !== original.name) payload.name = name;
      if (qrisValue !== (original.static_qris || "")) payload.static_qris = qrisValue || null;
      if (urlValue !== (original.webhook_url || "")) payload.webhook_url = urlValue || null;
      if (apps.join(",") !== (original.accepted_apps || []).join(",")) payload.accepted_apps = apps;
      if (anyAppInput.checked !== original.accept_any_app) payload.accept_any_app = anyAppInput.checked;
      if (unnamedAppInput.checked !== original.accept_unnamed_app) payload.accept_unnamed_app = unnamedAppInput.checked;
    }
    saveButton.disabled = true;
    saveButton.textContent = t("saving");
    var request = creating ? api("POST", "merchants", payload) : api("PATCH", "merchants/" + merchantId, payload);
    request.then(function (res) {
      loadMerchants(true).catch(function () { return null; });
      if (!alive) return;
      if (creating) {
        toast(t("m_created", { name: res.data.name }), "ok");
        showCreated(res.data, res.secrets);
      } else {
        toast(t("m_saved"), "ok");
        location.hash = "#/merchants";
      }
    }, function (err) {
      formError.textContent = errorText(err);
      formError.hidden = false;
    }).then(function () {
      saveButton.disabled = false;
      saveButton.textContent = creating ? t("m_new") : t("save");
    });
  });

  function showCreated(merchant, secrets) {
    clear(body);
    append(body, el("section", { class: "panel created", id: "m-created" },
      el("h2", { text: t("m_secrets_created") }),
      merchant.qris ? el("div", { class: "qris-decoded" }, el("span", { class: "badge badge-ok", text: t("m_qris_valid") }),
        el("span", { class: "decoded-name", text: merchant.qris.merchant_name }), el("span", { class: "muted", text: merchant.qris.merchant_city })) : null,
      el("p", { class: "callout callout-warn" }, icon("warn"), el("span", { text: t("secret_once_body") })),
      SECRET_KINDS.map(function (kind) { return copyField(t("rot_" + kind), secrets[kind], { secret: true, testid: "secret-" + kind }); }),
      el("div", { class: "form-actions" }, el("a", { class: "btn btn-primary", href: "#/merchants", id: "m-done" }, t("secret_saved")))));
  }

  function fill(m) {
    original = m;
    nameInput.value = m ? m.name : "";
    qrisInput.value = m && m.static_qris ? m.static_qris : "";
    urlInput.value = m && m.webhook_url ? m.webhook_url : "";
    appsInput.value = m && m.accepted_apps ? m.accepted_apps.join(", ") : "";
    anyAppInput.checked = Boolean(m && m.accept_any_app);
    unnamedAppInput.checked = Boolean(m && m.accept_unnamed_app);
    var seen = m ? m.devices.map(function (d) { return d.last_app; }).filter(function (app, i, all) { return app && all.indexOf(app) === i; }) : [];
    appsSeen.textContent = seen.length ? t("m_apps_seen", { apps: seen.join(", ") }) : "";
    appsSeen.hidden = !seen.length;
    clear(body).appendChild(form);
    if (qrisInput.value) checkQris(); else renderPreviewEmpty();
    nameInput.focus();
  }

  if (creating) fill(null);
  else {
    loadMerchants(true).then(function (list) {
      if (!alive) return;
      var m = list.filter(function (x) { return x.id === merchantId; })[0];
      if (!m) { clear(body).appendChild(el("div", { class: "empty-state", text: "404" })); return; }
      fill(m);
    }, function (err) { if (alive) clear(body).appendChild(errorBlock(err)); });
  }
  return { destroy: function () { alive = false; checkQris.cancel(); } };
}
