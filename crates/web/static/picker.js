// The customer picker: every input[data-picker] gets a <datalist> filled from
// /customers/pick?q=... as the user types (debounced). An option reads "#123 Name (Company)";
// when the form is sent, a picked value is cut back to "#123", the reference the forms accept
// (a customer number or #id typed by hand is sent as typed).
(function () {
  "use strict";
  var picked = /^\s*#(\d+)\s/;

  function fill(list, items) {
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    items.forEach(function (c) {
      var o = document.createElement("option");
      o.value = "#" + c.id + " " + c.name + (c.company ? " (" + c.company + ")" : "");
      if (c.number) {
        o.textContent = c.number;
      }
      list.appendChild(o);
    });
  }

  function attach(input) {
    var id = input.getAttribute("list");
    var list = id ? document.getElementById(id) : null;
    if (!list) {
      list = document.createElement("datalist");
      list.id = (input.id || input.name || "customer") + "-list";
      input.parentNode.insertBefore(list, input.nextSibling);
      input.setAttribute("list", list.id);
    }
    input.setAttribute("autocomplete", "off");
    var timer = null;
    var last = "";
    var seq = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q === last || picked.test(input.value)) {
          return;
        }
        last = q;
        if (q.length < 2) {
          fill(list, []);
          return;
        }
        var mine = ++seq;
        fetch("/customers/pick?q=" + encodeURIComponent(q), {
          credentials: "same-origin",
          headers: { Accept: "application/json" }
        })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            if (mine === seq && Array.isArray(items)) {
              fill(list, items);
            }
          })
          .catch(function () {});
      }, 250);
    });
    if (input.form) {
      input.form.addEventListener("submit", function () {
        var m = picked.exec(input.value);
        if (m) {
          input.value = "#" + m[1];
        }
      });
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-picker]"), attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
