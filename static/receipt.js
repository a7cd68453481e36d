/* WebQRIS receipt: /pay/{invoice_id}/receipt, public like the checkout page, only for a paid
   bill. Printable on a 58 mm thermal printer or on A4: the paper choice names the CSS page
   (receipt.css) and is kept for the next receipt. An ES module, strict CSP. */
import { $, append, clear, dateTime, el, lang, methodName, onLangChange, rupiah, strings, toggleLang } from "./wq.js";

var t = strings({
  id: {
    title: "Struk pembayaran", loading: "Memuat struk…", paid: "Lunas",
    amount: "Nominal", unique_code: "Kode unik", total: "Total", paid_at: "Lunas pada", method: "Metode",
    method_manual: "Dikonfirmasi manual oleh toko", method_callback: "Notifikasi dari sistem toko",
    invoice: "No. tagihan", order: "ID pesanan", note: "Keterangan",
    thanks: "Terima kasih!", powered: "Pembayaran QRIS diproses oleh WebQRIS",
    print: "Cetak", paper: "Ukuran kertas", switch_lang: "English",
    no_receipt: "Struk belum tersedia", no_receipt_note: "Struk hanya ada untuk tagihan yang sudah lunas.",
    see_bill: "Lihat tagihan", not_found: "Tagihan tidak ditemukan",
    not_found_note: "Periksa kembali tautan dari toko.", load_error: "Tidak dapat memuat struk. Muat ulang halaman ini."
  },
  en: {
    title: "Payment receipt", loading: "Loading the receipt…", paid: "Paid",
    amount: "Amount", unique_code: "Unique code", total: "Total", paid_at: "Paid at", method: "Method",
    method_manual: "Confirmed by the shop", method_callback: "Notification from the shop's system",
    invoice: "Bill no.", order: "Order ID", note: "Description",
    thanks: "Thank you!", powered: "QRIS payment processed by WebQRIS",
    print: "Print", paper: "Paper size", switch_lang: "Bahasa Indonesia",
    no_receipt: "No receipt yet", no_receipt_note: "A receipt exists only for a paid bill.",
    see_bill: "See the bill", not_found: "Bill not found",
    not_found_note: "Please check the link the shop gave you.", load_error: "Could not load the receipt. Reload this page."
  }
});

var PAPER_KEY = "webqris.receipt.paper";
var invoiceId = decodeURIComponent(location.pathname.split("/")[2] || "");
var state = { data: null, problem: null };

function paper() {
  try { return window.localStorage.getItem(PAPER_KEY) === "a4" ? "a4" : "58"; } catch (e) { return "58"; }
}

function setPaper(value) {
  try { window.localStorage.setItem(PAPER_KEY, value); } catch (e) { /* this page only */ }
  applyPaper();
}

function applyPaper() {
  var chosen = paper();
  document.documentElement.classList.toggle("paper-58", chosen === "58");
  document.documentElement.classList.toggle("paper-a4", chosen === "a4");
  $("paper-58").setAttribute("aria-pressed", String(chosen === "58"));
  $("paper-a4").setAttribute("aria-pressed", String(chosen === "a4"));
}

function render() {
  $("print").textContent = t("print");
  $("paper-group").setAttribute("aria-label", t("paper"));
  $("lang-toggle").textContent = t("switch_lang");
  $("lang-toggle").setAttribute("lang", lang() === "id" ? "en" : "id");
  var main = clear($("receipt"));
  main.setAttribute("aria-busy", "false");
  var d = state.data;
  if (!d) {
    $("tools").hidden = !!state.problem;
    if (state.problem === "unpaid") {
      document.title = t("no_receipt");
      append(main, [el("h1", { text: t("no_receipt") }), el("p", { text: t("no_receipt_note") }),
        el("a", { href: "/pay/" + encodeURIComponent(invoiceId), text: t("see_bill") })]);
    } else if (state.problem === "missing") {
      document.title = t("not_found");
      append(main, [el("h1", { text: t("not_found") }), el("p", { text: t("not_found_note") })]);
    } else {
      append(main, [el("h1", { text: t("title") }), el("p", { role: state.problem ? "alert" : null, text: state.problem ? t("load_error") : t("loading") })]);
    }
    return;
  }
  $("tools").hidden = false;
  document.title = t("title") + " · " + d.merchant_name;
  var rows = el("dl", { class: "lines" });
  function line(label, value, cls) {
    if (value === null || value === undefined || value === "") return;
    rows.appendChild(el("div", { class: "line" + (cls ? " " + cls : "") }, el("dt", { text: label }), el("dd", { text: value })));
  }
  var method = d.payment_method === "manual" ? t("method_manual") : d.payment_method === "callback" ? t("method_callback") : methodName(d.payment_method);
  line(t("note"), d.description, "line-note");
  line(t("amount"), rupiah(d.amount));
  line(t("unique_code"), rupiah(d.unique_code)); // rupiah added to the amount, as the checkout says
  line(t("total"), rupiah(d.total_amount), "line-total");
  line(t("paid_at"), dateTime(d.paid_at, true));
  line(t("method"), method);
  line(t("invoice"), d.invoice_id, "line-id");
  line(t("order"), d.merchant_order_id, "line-id");
  append(main, [
    el("header", { class: "head" },
      el("h1", { class: "shop", text: d.merchant_name }),
      el("p", { class: "kind", text: t("title") }),
      el("p", { class: "stamp", "data-testid": "paid-stamp", text: t("paid") })),
    rows,
    el("p", { class: "thanks", text: t("thanks") }),
    el("p", { class: "powered", text: t("powered") })
  ]);
}

function load() {
  fetch("/pay/" + encodeURIComponent(invoiceId) + "/receipt/data", { cache: "no-store", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (response.status === 404) {
        // A bill that exists but is not paid has a checkout page to go back to.
        return fetch("/pay/" + encodeURIComponent(invoiceId) + "/data", { cache: "no-store", headers: { Accept: "application/json" } })
          .then(function (bill) { state.problem = bill.ok ? "unpaid" : "missing"; return null; });
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (body) {
      if (body) state.data = body.data;
      render();
    }, function () {
      state.problem = "error";
      render();
    });
}

$("paper-58").addEventListener("click", function () { setPaper("58"); });
$("paper-a4").addEventListener("click", function () { setPaper("a4"); });
$("print").addEventListener("click", function () { window.print(); });
$("lang-toggle").addEventListener("click", function () { toggleLang(); });
onLangChange(function () { document.documentElement.lang = lang(); render(); });
applyPaper();
render();
load();
