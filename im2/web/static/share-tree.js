// The share tree as an ECharts tree series: nested {name, children} under one root named for
// the campaign, the shape the sharing page's tree has. One drawing for every page that shows
// a share tree. `fromRows` builds that shape from the analytics registry's `share_tree` rows
// (participant, parent, people_brought), which come parents first.
(function () {
  "use strict";
  function fromRows(rows, label) {
    var root = {name: label, children: []};
    var byId = {};
    rows.forEach(function (r) {
      var node = {name: "#" + r.participant, value: r.people_brought, children: []};
      byId[r.participant] = node;
      var parent = r.parent !== null && byId[r.parent] ? byId[r.parent] : root;
      parent.children.push(node);
    });
    return root;
  }
  function options(tree) {
    return {
      tooltip: {trigger: "item"},
      series: [{type: "tree", data: [tree], top: "4%", left: "18%", bottom: "4%", right: "12%",
                symbolSize: 9, initialTreeDepth: 4, label: {position: "left", fontSize: 11},
                leaves: {label: {position: "right"}}, expandAndCollapse: true, animationDuration: 300}]
    };
  }
  // Draw (or redraw, on a live update) `tree` into the chart `chart`.
  function draw(chart, tree) { chart.setOption(options(tree), true); }
  window.IM2ShareTree = {fromRows: fromRows, options: options, draw: draw};
})();
