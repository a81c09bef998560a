/* gpu_test.c — the GPU inventory: `nvidia-smi -L` parsing (UUIDs become the
 * CUDA_VISIBLE_DEVICES tokens), GPURUN_GPUS, a /dev scan that takes
 * nvidia0..N and ignores nvidiactl/nvidia-uvm, and the fallback order. */
#include "support/support.h"

#include "base/file.h"
#include "platform/gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_gpu_parse_nvidia_smi(void **state)
{
	const char *out = "GPU 1: NVIDIA H200 (UUID: GPU-bbbbbbbb-1111-2222-3333-444444444444)\n"
	                  "GPU 0: NVIDIA H200 (UUID: GPU-aaaaaaaa-1111-2222-3333-444444444444)\n"
	                  "  MIG 1g.18gb Device 0: (UUID: MIG-cccc)\n"
	                  "garbage line\n"
	                  "GPU 2: Tesla T4";
	struct gpu_inventory inv;
	gpu_inventory_parse_smi(&inv, out, strlen(out));
	assert_int_equal(inv.n, 3);
	assert_int_equal(inv.dev[0].index, 0);
	assert_string_equal(inv.dev[0].id, "GPU-aaaaaaaa-1111-2222-3333-444444444444");
	assert_string_equal(inv.dev[0].name, "NVIDIA H200");
	assert_string_equal(inv.dev[2].id, "2"); /* no UUID: the index */
	assert_string_equal(inv.dev[2].name, "Tesla T4");
	assert_string_equal(inv.source, "nvidia-smi");
	int idx[2] = {1, 0};
	struct buf b = BUF_INIT;
	gpu_visible_devices(&inv, idx, 2, &b);
	assert_string_equal(b.data, "GPU-bbbbbbbb-1111-2222-3333-444444444444,"
	                            "GPU-aaaaaaaa-1111-2222-3333-444444444444");
	buf_release(&b);
	gpu_visible_devices(&inv, idx, 0, &b);
	assert_string_equal(b.data, "");
	buf_release(&b);
}

static void touch(const char *dir, const char *name)
{
	char *p = file_path_join(dir, name);
	assert_int_equal(file_write_atomic(p, "", 0, 0644), 0);
	free(p);
}

static void test_gpu_detect_order(void **state)
{
	char *dev = file_path_join(test_tmp_dir(), "dev");
	assert_int_equal(file_mkdir_p(dev, 0755), 0);
	touch(dev, "nvidia1");
	touch(dev, "nvidia0");
	touch(dev, "nvidiactl");
	touch(dev, "nvidia-uvm");
	touch(dev, "nvidia-caps");
	struct gpu_inventory inv;
	unsetenv("GPURUN_GPUS");
	/* no nvidia-smi (a command that fails): the /dev scan */
	gpu_inventory_detect(&inv, dev, "false");
	assert_int_equal(inv.n, 2);
	assert_string_equal(inv.source, "/dev/nvidia*");
	assert_string_equal(inv.dev[0].id, "0");
	assert_string_equal(inv.dev[1].id, "1");
	/* an nvidia-smi that answers wins over /dev */
	char *smi = file_path_join(test_tmp_dir(), "fake-smi");
	const char *script = "#!/bin/sh\necho 'GPU 0: NVIDIA L4 (UUID: GPU-1234)'\n";
	assert_int_equal(file_write_atomic(smi, script, strlen(script), 0755), 0);
	gpu_inventory_detect(&inv, dev, smi);
	assert_int_equal(inv.n, 1);
	assert_string_equal(inv.dev[0].id, "GPU-1234");
	/* GPURUN_GPUS overrides everything, 0 included */
	setenv("GPURUN_GPUS", "3", 1);
	gpu_inventory_detect(&inv, dev, smi);
	assert_int_equal(inv.n, 3);
	assert_string_equal(inv.source, "GPURUN_GPUS");
	assert_string_equal(inv.dev[2].id, "2");
	setenv("GPURUN_GPUS", "0", 1);
	gpu_inventory_detect(&inv, dev, smi);
	assert_int_equal(inv.n, 0);
	setenv("GPURUN_GPUS", "lots", 1); /* ignored with a warning */
	gpu_inventory_detect(&inv, "/nonexistent", "false");
	assert_int_equal(inv.n, 0);
	assert_string_equal(inv.source, "none");
	unsetenv("GPURUN_GPUS");
	free(smi);
	free(dev);
	file_remove_tree(test_tmp_dir());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gpu_parse_nvidia_smi),
	    cmocka_unit_test(test_gpu_detect_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
