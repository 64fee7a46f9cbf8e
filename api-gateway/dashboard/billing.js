/*
 * billing.js - the billing pages of the dashboard (usage, invoices, price
 * plans), registered with Stratus.page({nav: 'billing', ...}); see the
 * contract at the top of core.js. No page is registered here yet.
 */
'use strict';
