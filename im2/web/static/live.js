// Live results: every element with data-live-results subscribes to its SSE stream and
// redraws its bars when a new snapshot arrives. No framework; a few lines on purpose.
(function () {
  function pct(share) { return (share * 100).toFixed(1) + "%"; }
  function draw(box, results) {
    results.options.forEach(function (option) {
      var row = box.querySelector('[data-option="' + option.id + '"]');
      if (!row) { return; }
      var bar = row.querySelector(".bar-fill");
      if (bar) { bar.style.width = pct(option.share); }
      var votes = row.querySelector(".votes");
      if (votes) { votes.textContent = option.votes; }
      var share = row.querySelector(".share");
      if (share) { share.textContent = pct(option.share); }
    });
    var total = box.querySelector("[data-total]");
    if (total) { total.textContent = results.voters; }
    box.setAttribute("data-updated", String(Date.now()));
  }
  function connect(box) {
    var source = new EventSource(box.getAttribute("data-live-results"));
    source.addEventListener("results", function (event) { draw(box, JSON.parse(event.data)); });
  }
  function start() {
    document.querySelectorAll("[data-live-results]").forEach(function (box) {
      if (!box.hasAttribute("data-live-connected")) {
        box.setAttribute("data-live-connected", "1");
        connect(box);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSwap", start);
})();
// "+5 积分" after an action swapped in by HTMX: the server sends HX-Trigger {"im2-points": n}
// (im2.web.points_flash); the label comes translated from the page.
(function () {
  document.addEventListener("im2-points", function (event) {
    var main = document.querySelector("main[data-points-label]");
    var points = event.detail && event.detail.value;
    if (!main || !(points > 0)) { return; }
    var toast = main.querySelector(".points-toast");
    if (!toast) {
      toast = document.createElement("p");
      toast.className = "notice points-toast";
      toast.setAttribute("role", "status");
      main.insertBefore(toast, main.firstChild);
    }
    toast.textContent = main.getAttribute("data-points-label").replace("{n}", String(points));
  });
})();
