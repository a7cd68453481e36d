/* Payment links: a shop with no web shop of its own makes a bill here (amount, description,
   optionally the customer's name, up to 7 days to pay) and shares its checkout page: copy the
   link, send it on WhatsApp, or print an A6 card with its QR (links.css). */
import {
  api, append, clear, copyButton, dateTime, el, errorText, field, fieldProblem, icon, loadMerchants, pageHeader,
  rupiah, strings
} from "./wq.js";

var t = strings({
  id: {
    links_title: "Tautan pembayaran",
    links_sub: "Buat tagihan untuk pelanggan yang membayar dari jauh, lalu bagikan tautannya.",
    shop: "Toko", choose_shop: "Pilih toko", amount: "Nominal (rupiah)", amount_ph: "misalnya 150000",
    description: "Keterangan", description_ph: "misalnya: Kue lapis 1 loyang",
    customer: "Nama pelanggan (opsional)", expiry: "Berlaku selama",
    hours_1: "1 jam", days_1: "1 hari", days_3: "3 hari", days_7: "7 hari",
    create: "Buat tautan pembayaran", creating: "Membuat…", need_shop: "Pilih toko dulu.",
    need_amount: "Isi nominal dalam rupiah, tanpa titik, misalnya 150000.",
    ready: "Tautan pembayaran siap", link: "Tautan", copy_link: "Salin tautan",
    share_whatsapp: "Bagikan ke WhatsApp", print_card: "Cetak kartu A6", open_link: "Buka halaman bayar",
    another: "Buat tautan lain", card_pay: "Bayar dengan QRIS", card_total: "Total",
    card_scan: "Pindai QR ini dengan aplikasi e-wallet atau m-banking apa pun.",
    card_until: "Berlaku sampai {deadline}", card_for: "Untuk {customer}",
    qr_alt: "Kode QRIS untuk membayar {total}",
    wa_hello: "Halo {customer},", wa_hello_anon: "Halo,",
    wa_body: "berikut tautan pembayaran {shop} untuk {description}.", wa_body_plain: "berikut tautan pembayaran {shop}.",
    wa_total: "Total {total} (bayar tepat sampai angka terakhir).", wa_until: "Bayar sebelum {deadline}:"
  },
  en: {
    links_title: "Payment links",
    links_sub: "Make a bill for a customer who pays from afar, then share its link.",
    shop: "Shop", choose_shop: "Choose a shop", amount: "Amount (rupiah)", amount_ph: "e.g. 150000",
    description: "Description", description_ph: "e.g. One layered cake",
    customer: "Customer name (optional)", expiry: "Valid for",
    hours_1: "1 hour", days_1: "1 day", days_3: "3 days", days_7: "7 days",
    create: "Make payment link", creating: "Making…", need_shop: "Choose a shop first.",
    need_amount: "Enter the amount in rupiah, without dots, e.g. 150000.",
    ready: "Payment link ready", link: "Link", copy_link: "Copy link",
    share_whatsapp: "Share on WhatsApp", print_card: "Print A6 card", open_link: "Open the payment page",
    another: "Make another link", card_pay: "Pay with QRIS", card_total: "Total",
    card_scan: "Scan this QR with any e-wallet or mobile banking app.",
    card_until: "Valid until {deadline}", card_for: "For {customer}",
    qr_alt: "QRIS code to pay {total}",
    wa_hello: "Hello {customer},", wa_hello_anon: "Hello,",
    wa_body: "here is {shop}'s payment link for {description}.", wa_body_plain: "here is {shop}'s payment link.",
    wa_total: "Total {total} (pay exactly, down to the last digits).", wa_until: "Pay before {deadline}:"
  }
});

var EXPIRY_CHOICES = [["hours_1", 3600], ["days_1", 86400], ["days_3", 3 * 86400], ["days_7", 7 * 86400]];

/* The WhatsApp message: every sentence reads whole whether or not a name or a description
   was given. */
export function whatsappText(bill) {
  var lines = [
    bill.customer_name ? t("wa_hello", { customer: bill.customer_name }) : t("wa_hello_anon"),
    bill.description ? t("wa_body", { shop: bill.merchant_name, description: bill.description }) : t("wa_body_plain", { shop: bill.merchant_name }),
    t("wa_total", { total: rupiah(bill.total_amount) }),
    t("wa_until", { deadline: dateTime(bill.expired_at) }),
    bill.checkout_url
  ];
  return lines.join("\n");
}

export function viewLinks(container) {
  var alive = true;
  var shopSelect = el("select", { id: "link-shop", required: true }, el("option", { value: "", text: t("choose_shop") }));
  var amount = el("input", { id: "link-amount", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: t("amount_ph"), required: true });
  var description = el("input", { id: "link-description", type: "text", maxlength: "200", autocomplete: "off", placeholder: t("description_ph") });
  var customer = el("input", { id: "link-customer", type: "text", maxlength: "255", autocomplete: "off" });
  var expiry = el("select", { id: "link-expiry" }, EXPIRY_CHOICES.map(function (choice) {
    return el("option", { value: String(choice[1]), text: t(choice[0]) });
  }));
  expiry.value = "86400";
  var error = el("p", { class: "form-error", id: "link-problem", role: "alert", hidden: true });
  var submit = el("button", { type: "submit", class: "btn btn-primary", id: "link-create" }, t("create"));
  var form = el("form", { class: "panel link-form", novalidate: true },
    field(t("shop"), shopSelect, "link-shop"),
    field(t("amount"), amount, "link-amount"),
    field(t("description"), description, "link-description"),
    field(t("customer"), customer, "link-customer"),
    field(t("expiry"), expiry, "link-expiry"),
    error, el("div", { class: "form-actions" }, submit));
  var result = el("div", { class: "link-result", id: "link-result" });
  append(container, [pageHeader(t("links_title"), null, t("links_sub")), form, result]);

  loadMerchants().then(function (list) {
    if (!alive) return;
    list.forEach(function (m) { shopSelect.appendChild(el("option", { value: String(m.id), text: m.name })); });
    if (list.length === 1) shopSelect.value = String(list[0].id);
  }, function (err) { error.textContent = errorText(err); error.hidden = false; });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var digits = amount.value.replace(/[\s.]/g, "").replace(/^Rp/i, "");
    if (!shopSelect.value) return fail(t("need_shop"), shopSelect);
    if (!/^[0-9]{1,12}$/.test(digits) || Number(digits) <= 0) return fail(t("need_amount"), amount);
    var body = { kind: "link", amount: Number(digits), expires_in_seconds: Number(expiry.value) };
    if (description.value.trim()) body.description = description.value.trim();
    if (customer.value.trim()) body.customer_name = customer.value.trim();
    submit.disabled = true;
    submit.textContent = t("creating");
    api("POST", "merchants/" + shopSelect.value + "/invoices", body).then(function (answer) {
      if (!alive) return;
      showLink(answer.data);
    }, function (err) {
      fail(errorText(err));
    }).then(function () {
      submit.disabled = false;
      submit.textContent = t("create");
    });
  });

  function fail(message, control) {
    if (control) { fieldProblem(control, error, message); return; }
    error.textContent = message;
    error.hidden = false;
  }

  function showLink(bill) {
    form.hidden = true;
    var card = el("article", { class: "link-card", id: "link-card", "aria-labelledby": "link-card-shop" },
      el("h2", { id: "link-card-shop", class: "link-card-shop", text: bill.merchant_name }),
      el("p", { class: "link-card-pay", text: t("card_pay") }),
      bill.description ? el("p", { class: "link-card-description", text: bill.description }) : null,
      bill.customer_name ? el("p", { class: "link-card-customer", text: t("card_for", { customer: bill.customer_name }) }) : null,
      el("img", { class: "link-card-qr", src: bill.qr_svg_url, width: "240", height: "240", alt: t("qr_alt", { total: rupiah(bill.total_amount) }) }),
      el("p", { class: "link-card-total" }, el("span", { text: t("card_total") + " " }), el("strong", { class: "money", "data-testid": "link-total", text: rupiah(bill.total_amount) })),
      el("p", { class: "link-card-scan", text: t("card_scan") }),
      el("p", { class: "link-card-until", text: t("card_until", { deadline: dateTime(bill.expired_at) }) }),
      el("p", { class: "link-card-url" }, el("code", { "data-testid": "link-url", text: bill.checkout_url })));
    var actions = el("div", { class: "link-actions" },
      copyButton(bill.checkout_url, t("copy_link")),
      el("a", { class: "btn btn-quiet", id: "link-whatsapp", href: "https://wa.me/?text=" + encodeURIComponent(whatsappText(bill)), target: "_blank", rel: "noopener" }, t("share_whatsapp")),
      el("button", { type: "button", class: "btn btn-quiet", id: "link-print", onclick: printCard }, t("print_card")),
      el("a", { class: "btn btn-quiet", id: "link-open", href: bill.checkout_url, target: "_blank", rel: "noopener" }, icon("link"), el("span", { text: t("open_link") })),
      el("button", { type: "button", class: "btn btn-primary", id: "link-another", onclick: again }, t("another")));
    append(clear(result), [el("h2", { class: "link-ready", tabindex: "-1", id: "link-ready", text: t("ready") }), card, actions]);
    document.getElementById("link-ready").focus();
  }

  function again() {
    clear(result);
    amount.value = "";
    description.value = "";
    customer.value = "";
    form.hidden = false;
    amount.focus();
  }

  /* Only the card is printed, on its own A6 page (links.css), while this class is on. */
  function printCard() {
    document.documentElement.classList.add("printing-card");
    window.addEventListener("afterprint", function done() {
      document.documentElement.classList.remove("printing-card");
      window.removeEventListener("afterprint", done);
    });
    window.print();
  }

  return { destroy: function () { alive = false; document.documentElement.classList.remove("printing-card"); } };
}
