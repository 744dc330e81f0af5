// Initialise GOV.UK Frontend components. A module file of our own so the CSP
// can stay at script-src 'self'.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();
