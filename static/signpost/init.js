// Initialise GOV.UK Frontend components and our small enhancements. Module files of our own so the
// CSP can stay at script-src 'self'.
import { initAll } from "../govuk/govuk-frontend.min.js";
import { enhanceSelects } from "./autocomplete.js";
import { focusMarkedHeading } from "./focus.js";
import { labelTableCells } from "./tables.js";

initAll();
enhanceSelects();
labelTableCells();
focusMarkedHeading();
