// The Stats page chart: reads the json_script data (#stats-chart-data) and draws delivered
// messages as a line and failures as stacked bars per day. The table holds the same numbers.
(function () {
  "use strict";

  const canvas = document.getElementById("stats-chart");
  const source = document.getElementById("stats-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;

  const data = JSON.parse(source.textContent);
  const colours = {
    delivered: "#198754",
    soft_bounce: "#ffc107",
    hard_bounce: "#dc3545",
    dropped: "#6c757d",
    invalid: "#6f42c1",
    spam: "#fd7e14",
    unsubscribed: "#0dcaf0",
  };

  const failures = ["soft_bounce", "hard_bounce", "dropped", "invalid", "spam", "unsubscribed"];
  const datasets = [
    {
      type: "line",
      label: data.metric_labels.delivered,
      data: data.series.delivered,
      borderColor: colours.delivered,
      backgroundColor: colours.delivered,
      yAxisID: "delivered",
      tension: 0.2,
      pointRadius: 2,
    },
  ].concat(
    failures.map(function (metric) {
      return {
        type: "bar",
        label: data.metric_labels[metric],
        data: data.series[metric],
        backgroundColor: colours[metric],
        yAxisID: "failures",
        stack: "failures",
      };
    })
  );

  new window.Chart(canvas, {
    data: { labels: data.labels, datasets: datasets },
    options: {
      responsive: true,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { stacked: true },
        delivered: {
          type: "linear",
          position: "left",
          beginAtZero: true,
          ticks: { precision: 0 },
          title: { display: true, text: data.metric_labels.delivered },
        },
        failures: {
          type: "linear",
          position: "right",
          beginAtZero: true,
          stacked: true,
          ticks: { precision: 0 },
          grid: { drawOnChartArea: false },
          title: { display: true, text: "Failures and unsubscribes" },
        },
      },
    },
  });
})();
