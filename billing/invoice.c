#include "billing.h"
void bl_invoice_routes(st_http_server *s, bl_ctx *ctx) {}
