# SPDX-License-Identifier: MIT
# The installed layout and the Debian package (cpack -G DEB, or the `package` target):
#   bin/banger, bin/bangerd          the CLI and the daemon (user mode runs them unprivileged)
#   sbin/bangerd-root                the root helper (system install only)
#   lib/banger/banger-agent          the guest's static PID 1; bangerd finds it at
#                                    <its dir>/../lib/banger/ (server/vm/initrd.c)
#   share/bash-completion/completions/banger
#   share/man/man1/banger.1.gz, bangerd.1.gz, share/man/man8/bangerd-root.8.gz, made at build
#                                    time by help2man from each program's own --help
#   share/doc/banger/                README.md, docs/*.md, api.html, copyright
# No systemd units: `banger system install` renders and enables them, so a fresh package
# installs nothing that runs.
include(GNUInstallDirs)

install(TARGETS banger bangerd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS bangerd-root RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# Not the multiarch LIBDIR: bangerd looks for the agent at ../lib/banger relative to itself.
install(TARGETS banger-agent RUNTIME DESTINATION lib/banger)
install(FILES ${CMAKE_SOURCE_DIR}/client/banger.bash-completion
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME banger)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

find_program(BANGER_HELP2MAN help2man)
if(NOT BANGER_HELP2MAN)
  message(STATUS "man pages: not built: help2man is needed (scripts/bootstrap installs it)")
else()
  set(MAN_DIR ${CMAKE_BINARY_DIR}/man)
  set(MAN_PAGES)
  # program, section, one-line description
  foreach(page "banger;1;the CLI of banger, throwaway Linux microVMs"
               "bangerd;1;the banger daemon: VMs, images and the REST API"
               "bangerd-root;8;banger's root helper: networking and VMM launch for bangerd")
    list(GET page 0 prog)
    list(GET page 1 section)
    list(GET page 2 what)
    set(out ${MAN_DIR}/${prog}.${section}.gz)
    add_custom_command(OUTPUT ${out}
      COMMAND bash ${CMAKE_SOURCE_DIR}/cmake/manpage.sh ${BANGER_HELP2MAN} $<TARGET_FILE:${prog}>
        ${section} "${what}" ${out}
      DEPENDS ${prog} ${CMAKE_SOURCE_DIR}/cmake/manpage.sh
      COMMENT "Generating the man page ${prog}(${section}) from ${prog} --help"
      VERBATIM)
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    list(APPEND MAN_PAGES ${out})
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${MAN_PAGES})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME banger)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "The banger authors <maintainers@users.noreply.r-seed-e951df55.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "throwaway Linux microVMs for development work")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "banger boots throwaway Linux microVMs (QEMU microvm, or Firecracker on a KVM host) to\n"
  "run a repository's commands in, on one host. bangerd keeps the state and serves a JSON\n"
  "REST API on a unix socket, banger is its CLI, banger-agent is the guest's PID 1 and\n"
  "bangerd-root the root helper of a system install.\n"
  "\n"
  "Nothing runs after installing the package: `banger system install --owner USER` (as\n"
  "root) writes and enables the units; bangerd also runs unprivileged in user mode.")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The libraries come from dpkg-shlibdeps; the programs bangerd runs are named here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qemu-system-x86, e2fsprogs, nftables, iproute2")
# image build (mmdebstrap in a user namespace, busybox for the minimal recipe), vm ssh,
# workspaces from git
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mmdebstrap, uidmap, busybox-static, openssh-client, git")
include(CPack)
