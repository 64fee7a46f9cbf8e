/*
 * admin.js - the cloud admin's pages of the dashboard (hosts, tenants,
 * users, flavors, ...), registered with Stratus.page({nav: 'admin',
 * adminOnly: true, ...}); see the contract at the top of core.js.
 * No page is registered here yet.
 */
'use strict';
