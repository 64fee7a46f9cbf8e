/* invoice: print this month's invoice (the live draft) as CSV, after its
 * number, period and total.
 *
 *   invoice
 */
#include "common.h"

#include <string.h>

int main(void)
{
    stratus_session *s = example_session();
    stratus_iter *it;
    int rc = stratus_invoice_list(s, &it);
    if (rc < 0)
        return die("invoice list", rc);
    stratus_invoice *inv, *draft = NULL;
    while ((rc = stratus_invoice_next(it, &inv)) == 1) {
        if (!draft && inv->status && !strcmp(inv->status, "draft"))
            draft = inv;
        else
            stratus_invoice_free(inv);
    }
    stratus_iter_free(it);
    if (rc < 0)
        return die("invoice list", rc);
    if (!draft) {
        printf("no invoice this month\n");
        return 0;
    }
    printf("invoice %s, period %s, total %s %s\n",
           draft->number_text ? draft->number_text : "draft", draft->period,
           draft->total ? draft->total : "0", draft->currency ? draft->currency : "");
    char *csv;
    size_t len;
    if ((rc = stratus_invoice_get(s, draft->id, "csv", &csv, &len)) < 0)
        return die("invoice csv", rc);
    fwrite(csv, 1, len, stdout);
    free(csv);
    stratus_invoice_free(draft);
    stratus_session_free(s);
    return 0;
}
