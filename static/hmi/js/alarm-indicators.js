/* ISA-101 alarm indicators on a screen: beside each value whose tag is in alarm, a mark whose colour AND shape
 * give the priority (critical ◆ 1, high ▲ 2, medium ■ 3, low ● 4; the banner's colours), blinking while
 * unacknowledged. Positions are read once at start (left of each value, so a longer value never covers it);
 * alarm changes only toggle attributes. Loaded after screen.js on the screen page. */
(function () {
  "use strict";
  var Kiln = window.Kiln;
  if (!Kiln || !Kiln.screen || !Kiln.banner) return;
  var NS = "http://www.w3.org/2000/svg", root = Kiln.screen.root, svg = root.querySelector("svg");
  if (!svg) return;
  var RANK = Kiln.priorityRank, NUM = { critical: "1", high: "2", medium: "3", low: "4" };
  var SHAPES = {
    critical: function (s) { return "M0," + (-s) + " L" + s + ",0 L0," + s + " L" + (-s) + ",0 Z"; },
    high: function (s) { return "M0," + (-s) + " L" + s + "," + s * 0.8 + " L" + (-s) + "," + s * 0.8 + " Z"; },
    medium: function (s) { var h = s * 0.85; return "M" + (-h) + "," + (-h) + " H" + h + " V" + h + " H" + (-h) + " Z"; },
    low: function (s) { return "M" + (-s) + ",0 A" + s + "," + s + " 0 1,0 " + s + ",0 A" + s + "," + s + " 0 1,0 " + (-s) + ",0 Z"; }
  };
  var marks = [];  // {tag, g, path, text, size}
  var labels = Kiln.$all(".k-limit-label", svg).map(function (l) { return l.getBoundingClientRect(); });
  // Would a mark left of `box` (the value's, in its own units) cover a limit label? Compared on screen.
  function crowded(node, box, size) {
    if (!labels.length) return false;
    var r = node.getBoundingClientRect(), nb = node.getBBox(), k = nb.width ? r.width / nb.width : 1;
    var right = r.left - (nb.x - box.x) * k, left = right - (2 * size + 3) * k;
    var top = r.top - (nb.y - box.y) * k, bottom = top + box.height * k;
    return labels.some(function (l) { return l.right > left && l.left < right && l.bottom > top && l.top < bottom; });
  }
  Kiln.$all("text.kind-text[data-tag]", svg).forEach(function (node) {
    var box;
    try { box = node.getBBox(); } catch (e) { return; }
    // A value drawn in a box (a rect just before it that contains it): the mark goes left of the box.
    var frame = node.previousElementSibling;
    if (frame && frame.tagName.toLowerCase() === "rect") {
      try {
        var fb = frame.getBBox();
        if (fb.x <= box.x && fb.y <= box.y && fb.x + fb.width >= box.x + box.width && fb.y + fb.height >= box.y + box.height) {
          box = { x: fb.x, y: fb.y, width: fb.width, height: fb.height };
        }
      } catch (e) { /* keep the text's own box */ }
    }
    var size = Math.max(4, Math.min(9, box.height * 0.4 || 6));
    // Left of the box, unless an analog indicator's limit label (HH, H, ...) is drawn there: then right of it.
    var x = box.x - size - 3;
    if (crowded(node, box, size)) x = box.x + box.width + size + 3;
    var g = document.createElementNS(NS, "g");
    g.setAttribute("class", "alarm-ind");
    g.setAttribute("transform", "translate(" + x.toFixed(1) + "," + (box.y + box.height / 2).toFixed(1) + ")");
    g.setAttribute("data-alarm-for", node.getAttribute("data-tag"));
    g.style.display = "none";
    var path = document.createElementNS(NS, "path"), text = document.createElementNS(NS, "text");
    text.setAttribute("text-anchor", "middle"); text.setAttribute("dominant-baseline", "central");
    text.setAttribute("font-size", (size * 1.1).toFixed(1)); text.setAttribute("y", "0.5");
    var title = document.createElementNS(NS, "title");
    g.appendChild(title); g.appendChild(path); g.appendChild(text);
    node.parentNode.insertBefore(g, node.nextSibling);
    marks.push({ tag: node.getAttribute("data-tag"), g: g, path: path, text: text, title: title, size: size });
  });
  function paint() {
    var worst = {};  // tag → the alarm to show: highest priority, unacknowledged first
    for (var id in Kiln.banner.alarms) {
      var a = Kiln.banner.alarms[id];
      if (a.shelved || a.suppressed || a.out_of_service) continue;
      var cur = worst[a.tag], unacked = Kiln.alarmIsUnacked(a);
      var score = (RANK[a.priority] || 0) * 2 + (unacked ? 1 : 0);
      if (!cur || score > cur.score) worst[a.tag] = { a: a, score: score, unacked: unacked };
    }
    marks.forEach(function (m) {
      var w = worst[m.tag];
      if (!w) { if (m.g.style.display !== "none") m.g.style.display = "none"; m.g.removeAttribute("data-priority"); return; }
      var p = w.a.priority;
      if (m.g.getAttribute("data-priority") !== p) {
        m.g.setAttribute("data-priority", p);
        m.path.setAttribute("d", (SHAPES[p] || SHAPES.low)(m.size));
        m.text.textContent = NUM[p] || "";
      }
      m.g.classList.toggle("unacked", w.unacked);
      m.title.textContent = w.a.name + " (" + p + (w.unacked ? ", unacknowledged" : "") + ")";
      m.g.style.display = "";
    });
  }
  document.addEventListener("kiln:alarms", paint);
  Kiln.alarmIndicators = { paint: paint, count: function () { return marks.length; } };
  paint();
})();
