# What `cmake --install` puts on a host (see README.md "Installing on hosts"):
#   bin/                      the four services and stratus-vmm (those built)
#   lib/systemd/system/       a unit per service (deploy/systemd/*.service.in)
#   lib/sysusers.d/           the `stratus` user the control-plane services run as
#   share/doc/stratus/        the READMEs, and examples/<service>.conf.example
# Prefix and directories follow GNUInstallDirs; the units' paths are those
# of the install (CMAKE_INSTALL_FULL_*), so a staged install
# (DESTDIR=... cmake --install) carries the paths of the final one.
# Included before the components (they and tests/e2e/e2e_install use the
# paths); stratus_install() adds the rules once every target exists.
include(GNUInstallDirs)
set(STRATUS_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
    "where the systemd units are installed")
set(STRATUS_SYSUSERSDIR "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" CACHE PATH
    "where the sysusers.d file for the stratus user is installed")
set(STRATUS_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(STRATUS_SYSCONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}")
set(STRATUS_DOCDIR "${CMAKE_INSTALL_FULL_DOCDIR}")

function(stratus_install)

set(_services
    "stratus-gateway|api-gateway/gateway.conf.example|api-gateway/README.md"
    "stratus-images|image-store/images.conf.example|image-store/README.md"
    "stratus-billing|billing/billing.conf.example|billing/README.md"
    "stratus-node|compute-node/agent/node.conf.example|compute-node/agent/README.md")
foreach(s IN LISTS _services)
  string(REPLACE "|" ";" s "${s}")
  list(GET s 0 _bin)
  list(GET s 1 _example)
  list(GET s 2 _readme)
  if(NOT TARGET ${_bin})
    continue()
  endif()
  install(TARGETS ${_bin} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  configure_file(${CMAKE_SOURCE_DIR}/deploy/systemd/${_bin}.service.in
                 ${CMAKE_BINARY_DIR}/systemd/${_bin}.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${_bin}.service DESTINATION ${STRATUS_SYSTEMD_UNITDIR})
  install(FILES ${CMAKE_SOURCE_DIR}/${_example} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
  get_filename_component(_dir ${_readme} DIRECTORY)
  string(REPLACE "/" "-" _dir "${_dir}")
  install(FILES ${CMAKE_SOURCE_DIR}/${_readme} DESTINATION ${CMAKE_INSTALL_DOCDIR}
          RENAME README.${_dir}.md)
endforeach()
if(TARGET stratus-vmm)
  install(TARGETS stratus-vmm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/stratus.sysusers DESTINATION ${STRATUS_SYSUSERSDIR}
        RENAME stratus.conf)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
endfunction()
