/*
 * Shared CUnit runner: each test file defines twinfs_register_tests(), which adds its
 * suites. The process exits non-zero when a suite failed to set up or any assertion
 * failed, so ctest sees every failure.
 */
#include <CUnit/Basic.h>
#include <stdio.h>

int twinfs_register_tests(void);

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (twinfs_register_tests() != 0) {
		fprintf(stderr, "test registration failed: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
			  CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "no test ran\n");
		return 1;
	}
	return failed ? 1 : 0;
}
