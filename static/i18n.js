/* WebQRIS: language, number and time formatting shared by the dashboard and the checkout page.
   Indonesian is the default; the choice is kept in localStorage. No dependencies. */
(function () {
  "use strict";

  var STORAGE_KEY = "webqris.lang";
  var LANGS = ["id", "en"];
  var dictionaries = { id: {}, en: {} };
  var listeners = [];

  function storedLang() {
    try {
      var value = window.localStorage.getItem(STORAGE_KEY);
      return LANGS.indexOf(value) >= 0 ? value : "id";
    } catch (e) {
      return "id";
    }
  }

  var current = storedLang();

  function locale() {
    return current === "id" ? "id-ID" : "en-GB";
  }

  /* Adds strings: add({id: {...}, en: {...}}). */
  function add(strings) {
    LANGS.forEach(function (lang) {
      var source = strings[lang] || {};
      Object.keys(source).forEach(function (key) {
        dictionaries[lang][key] = source[key];
      });
    });
  }

  /* t("key", {name: "x"}) with {name} placeholders; falls back to Indonesian, then the key. */
  function t(key, params) {
    var text = dictionaries[current][key];
    if (text === undefined) text = dictionaries.id[key];
    if (text === undefined) text = key;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (all, name) {
        return params[name] === undefined || params[name] === null ? "" : String(params[name]);
      });
    }
    return text;
  }

  function setLang(lang) {
    if (LANGS.indexOf(lang) < 0 || lang === current) return;
    current = lang;
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch (e) { /* private mode: the choice lasts for this page only */ }
    document.documentElement.lang = lang;
    listeners.forEach(function (fn) { fn(lang); });
  }

  function onChange(fn) {
    listeners.push(fn);
  }

  var numberFormats = {};
  function groupDigits(n) {
    var loc = "id-ID"; // Rupiah always uses Indonesian grouping: Rp25.042
    if (!numberFormats[loc]) numberFormats[loc] = new Intl.NumberFormat(loc, { maximumFractionDigits: 0 });
    return numberFormats[loc].format(n);
  }

  /* 25042 -> "Rp25.042" (null -> "–"). */
  function rupiah(n) {
    if (n === null || n === undefined || n === "" || isNaN(Number(n))) return "–";
    var value = Number(n);
    return (value < 0 ? "-Rp" : "Rp") + groupDigits(Math.abs(value));
  }

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    var d = value instanceof Date ? value : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }

  /* A time in the browser's own zone, e.g. "9 Mar 2026 17.15". */
  function dateTime(value, withSeconds) {
    var d = toDate(value);
    if (!d) return "–";
    var options = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
    if (withSeconds) options.second = "2-digit";
    return new Intl.DateTimeFormat(locale(), options).format(d);
  }

  function timeOnly(value) {
    var d = toDate(value);
    if (!d) return "–";
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(d);
  }

  function dateOnly(value, options) {
    var d = toDate(value);
    if (!d) return "–";
    return new Intl.DateTimeFormat(locale(), options || { day: "numeric", month: "short", year: "numeric" }).format(d);
  }

  /* "5 menit yang lalu" / "5 minutes ago". */
  function relative(value) {
    var d = toDate(value);
    if (!d) return "–";
    var seconds = Math.round((d.getTime() - Date.now()) / 1000);
    var abs = Math.abs(seconds);
    var rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
    if (abs < 45) return rtf.format(0, "second");
    if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
    if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
    return rtf.format(Math.round(seconds / 86400), "day");
  }

  document.documentElement.lang = current;

  window.WQ = {
    add: add,
    t: t,
    lang: function () { return current; },
    setLang: setLang,
    toggleLang: function () { setLang(current === "id" ? "en" : "id"); },
    onChange: onChange,
    locale: locale,
    rupiah: rupiah,
    groupDigits: groupDigits,
    dateTime: dateTime,
    timeOnly: timeOnly,
    dateOnly: dateOnly,
    relative: relative,
    toDate: toDate
  };
})();
