// Progressive enhancement: each <select data-signpost-autocomplete> becomes a GOV.UK accessible-autocomplete
// combobox you can type into. Without JavaScript, or if the library did not load, the <select> still works.
// The library is vendored (static/accessible-autocomplete) and loaded by the page before this module.
export function enhanceSelects(root = document) {
  const library = window.accessibleAutocomplete;
  if (!library) {
    return;
  }
  root.querySelectorAll("select[data-signpost-autocomplete]").forEach((select) => {
    const chosen = select.options[select.selectedIndex];
    library.enhanceSelectElement({
      selectElement: select,
      // The empty "Choose ..." option must not become the typed text.
      defaultValue: chosen && chosen.value ? chosen.text : "",
      showAllValues: true,
      dropdownArrow: () => "",
      tNoResults: () => "No organisation matches",
      tStatusQueryTooShort: (minQueryLength) => `Type ${minQueryLength} or more characters for results`,
    });
  });
}
