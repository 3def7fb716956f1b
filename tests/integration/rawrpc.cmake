# rawrpc.cmake — the raw ONC RPC test client and what uses it. Included at the END
# of tests/integration/CMakeLists.txt, after test_badinput and the script tests
# are defined, because it adds to them.
#
# rawrpc is a static library so that test_badinput and fhtool share one
# hand-written RPC encoder/decoder (no RPC library: the tests must be able to
# send what a library would refuse to).
add_library(twinfs_rawrpc STATIC ${CMAKE_CURRENT_LIST_DIR}/rawrpc.c)

if(TARGET test_drc_replay)
  target_link_libraries(test_drc_replay PRIVATE twinfs_rawrpc)
endif()

if(TARGET test_nfs4_badinput)
  target_link_libraries(test_nfs4_badinput PRIVATE twinfs_rawrpc)
endif()

if(TARGET test_badinput)
  target_link_libraries(test_badinput PRIVATE twinfs_rawrpc)
endif()

# fhtool: prints an NFSv3 file handle (MNT + LOOKUP) and uses it later without a
# new MNT (GETATTR, READ); test_restart.sh holds a handle across a restart with it.
add_executable(fhtool ${CMAKE_CURRENT_LIST_DIR}/fhtool.c)
target_link_libraries(fhtool PRIVATE twinfs_rawrpc)

if(TEST integration.restart)
  set_tests_properties(integration.restart PROPERTIES
                       ENVIRONMENT "TWINFS_FHTOOL=$<TARGET_FILE:fhtool>")
endif()
