// Patron's page helpers (a file, not inline script, for the Content-Security-Policy):
// - a chart mark's exact value (its data-v) is written into the chart's value line while the
//   pointer is on it or it has the keyboard focus;
// - "/" anywhere outside a form field puts the cursor into the header's customer search.
(function () {
  function show(ev) {
    var pt = ev.target.closest && ev.target.closest('.pt');
    if (!pt) return;
    var svg = pt.closest('svg');
    var line = svg && document.getElementById(svg.id + '-value');
    if (line) line.textContent = pt.getAttribute('data-v');
  }
  document.addEventListener('mouseover', show);
  document.addEventListener('focusin', show);
  document.addEventListener('keydown', function (ev) {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var q = document.getElementById('quick-search');
    if (!q) return;
    ev.preventDefault();
    q.focus();
    q.select();
  });
})();
