// After a search, move focus to the results heading so keyboard and screen-reader users land on the
// results, not at the top of the page. The heading carries tabindex="-1" and data-signpost-focus.
export function focusMarkedHeading(root = document) {
  const target = root.querySelector("[data-signpost-focus]");
  if (target && !root.querySelector(".govuk-error-summary")) {
    target.focus();
  }
}
