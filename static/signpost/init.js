// Initialise GOV.UK Frontend components and our small enhancements. Module files of our own so the
// CSP can stay at script-src 'self'.
import { initAll } from "../govuk/govuk-frontend.min.js";
import { focusMarkedHeading } from "./focus.js";

initAll();
focusMarkedHeading();
