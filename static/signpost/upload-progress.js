// Progress of a CSV upload: poll its status and update the bar, then reload the page
// when the task has finished (to show the results). Without JavaScript the page has a
// "Refresh" link instead. A module file of our own: the CSP allows no inline script.
const box = document.querySelector("[data-upload-progress]");

if (box && box.dataset.inProgress === "true") {
  const bar = document.getElementById("upload-progress");
  const text = document.getElementById("upload-progress-text");
  const label = document.getElementById("upload-status-label");
  const refresh = box.querySelector("[data-refresh-link]");
  if (refresh) refresh.hidden = true;

  const format = (n) => n.toLocaleString("en-GB");

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const status = await response.json();
      if (bar) {
        bar.max = Math.max(status.total, 1);
        bar.value = status.processed;
        bar.textContent = `${status.percent}%`;
      }
      if (text) text.textContent = `${format(status.processed)} of ${format(status.total)} rows (${status.percent}%)`;
      if (label) label.textContent = status.label;
      if (!status.in_progress) {
        window.location.reload();
        return;
      }
    } catch (error) {
      if (refresh) refresh.hidden = false; // let the user refresh by hand
      return;
    }
    window.setTimeout(poll, 1500);
  }

  window.setTimeout(poll, 1000);
}
