/* Built against an installed vkslm (pkg-config and find_package) by .ci/run's install check. */
#include <stdio.h>
#include <vkslm.h>
#include <vkslm_gguf.h>

int main(void) {
    vkslm_device_info info[8];
    int n = 0, chosen = -1;
    vkslm_status st = vkslm_devices_list(info, 8, &n, &chosen);
    if (st != VKSLM_OK) {
        fprintf(stderr, "%s: %s\n", vkslm_status_str(st), vkslm_last_error());
        return 1;
    }
    for (int i = 0; i < n && i < 8; i++)
        printf("%d: %s%s\n", i, info[i].name, i == chosen ? " (chosen)" : "");
    printf("vkslm %s; file types %s; %s blocks of %u bytes\n", vkslm_version(), vkslm_ftype_list(),
           vkslm_type_info(VKSLM_TYPE_Q4_0)->name, vkslm_type_info(VKSLM_TYPE_Q4_0)->block_bytes);
    return 0;
}
