// On a narrow screen each table row is shown as a stack of "Heading: value" lines (signpost.css). Templates may
// label cells themselves (data-label); this fills in the rest from the column headings.
export function labelTableCells(root = document) {
  root.querySelectorAll("table.govuk-table").forEach((table) => {
    const headings = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, index) => {
        if (!cell.hasAttribute("data-label") && headings[index] && !cell.hasAttribute("colspan")) {
          cell.setAttribute("data-label", headings[index]);
        }
      });
    });
  });
}
